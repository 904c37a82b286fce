# normlab's own tests of the course (included from tests/CMakeLists.txt): every exercise's
# reference solution passes its grader, the blank template fails it, and every hidden wrong
# implementation wrong/<name>--<bug>.cpp fails the check its header names ('Must fail "<check>"').
set(COURSE_GRADER_DIR ${CMAKE_CURRENT_LIST_DIR})
include(${CMAKE_CURRENT_LIST_DIR}/course.cmake)
set(course_root ${CMAKE_CURRENT_LIST_DIR})
list(LENGTH COURSE_EXERCISES count)
math(EXPR last "${count} - 1")
foreach(i RANGE 0 ${last} 2)
  math(EXPR j "${i} + 1")
  list(GET COURSE_EXERCISES ${i} name)
  list(GET COURSE_EXERCISES ${j} unit)
  set(unit_dir ${course_root}/exercises/${unit})
  set(args "${COURSE_ARGS_${name}}")
  string(REPLACE ";" "|" joined_args "${args}")

  course_grader(course_${name}_solution ${name} ${unit_dir} ${course_root}/solutions/${name}.cpp)
  add_test(NAME course.${name}.solution COMMAND course_${name}_solution ${args})
  list(APPEND course_tests course.${name}.solution course.${name}.template)

  course_grader(course_${name}_template ${name} ${unit_dir} ${unit_dir}/${name}.cpp)
  add_test(NAME course.${name}.template COMMAND ${CMAKE_COMMAND}
           -DGRADER=$<TARGET_FILE:course_${name}_template> "-DARGS=${joined_args}"
           "-DEXPECT=not implemented yet" -P ${course_root}/expect_rejection.cmake)

  file(GLOB wrongs ${course_root}/wrong/${name}--*.cpp)
  if(NOT wrongs)
    message(FATAL_ERROR "course exercise ${name} has no hidden wrong implementation")
  endif()
  foreach(wrong ${wrongs})
    get_filename_component(stem ${wrong} NAME_WE)
    string(REPLACE "${name}--" "" bug ${stem})
    file(STRINGS ${wrong} expectation REGEX "Must fail \"")
    string(REGEX REPLACE ".*Must fail \"([^\"]+)\".*" "\\1" check "${expectation}")
    if(NOT check)
      message(FATAL_ERROR "${wrong}: the header must say which check catches it (Must fail \"...\")")
    endif()
    string(REPLACE "-" "_" target_bug ${bug})
    course_grader(course_${name}_wrong_${target_bug} ${name} ${unit_dir} ${wrong})
    add_test(NAME course.${name}.wrong.${bug} COMMAND ${CMAKE_COMMAND}
             -DGRADER=$<TARGET_FILE:course_${name}_wrong_${target_bug}> "-DARGS=${joined_args}"
             "-DEXPECT=FAIL  ${check}" -P ${course_root}/expect_rejection.cmake)
    list(APPEND course_tests course.${name}.wrong.${bug})
  endforeach()
endforeach()
set_tests_properties(${course_tests} PROPERTIES LABELS course)
