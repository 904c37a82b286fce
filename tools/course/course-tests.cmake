# normlab's own tests of the course (included from tests/CMakeLists.txt): every exercise's
# reference solution passes its grader, the blank template fails it, and every hidden wrong
# implementation wrong/<name>--<bug>.bug fails the check it names.
set(COURSE_GRADER_DIR ${CMAKE_CURRENT_LIST_DIR})
include(${CMAKE_CURRENT_LIST_DIR}/course.cmake)
set(course_root ${CMAKE_CURRENT_LIST_DIR})

# A wrong/<name>--<bug>.bug file describes a wrong implementation as edits of the reference
# solution: a "must fail: <check>" line naming the check that must reject it, then pairs of
# "replace: <text of the solution>" and "with: <the wrong text>" lines. Writes the edited
# source to the build tree; <out> is its path, <check_out> the check. Read with string(FIND),
# not as a CMake list: code lines contain semicolons.
function(course_wrong_source out check_out name bug_file)
  file(READ ${course_root}/solutions/${name}.cpp source)
  file(READ ${bug_file} rest)
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
               ${bug_file} ${course_root}/solutions/${name}.cpp)
  set(check "")
  set(edits 0)
  while(NOT rest STREQUAL "")
    string(FIND "${rest}" "\n" eol)
    if(eol EQUAL -1)
      set(line "${rest}")
      set(rest "")
    else()
      string(SUBSTRING "${rest}" 0 ${eol} line)
      math(EXPR next "${eol} + 1")
      string(SUBSTRING "${rest}" ${next} -1 rest)
    endif()
    if(line MATCHES "^must fail: ")
      string(SUBSTRING "${line}" 11 -1 check)
    elseif(line MATCHES "^replace: ")
      string(SUBSTRING "${line}" 9 -1 old)
    elseif(line MATCHES "^with: ")
      string(SUBSTRING "${line}" 6 -1 new)
      string(FIND "${source}" "${old}" at)
      if(at EQUAL -1)
        message(FATAL_ERROR "${bug_file}: \"${old}\" is not in solutions/${name}.cpp")
      endif()
      string(REPLACE "${old}" "${new}" source "${source}")
      math(EXPR edits "${edits} + 1")
    endif()
  endwhile()
  if(check STREQUAL "" OR edits EQUAL 0)
    message(FATAL_ERROR "${bug_file}: needs a 'must fail:' line and at least one replace/with pair")
  endif()
  get_filename_component(stem ${bug_file} NAME_WE)
  set(path ${CMAKE_CURRENT_BINARY_DIR}/course-wrong/${stem}.cpp)
  file(CONFIGURE OUTPUT ${path} CONTENT "${source}" @ONLY)
  set(${out} ${path} PARENT_SCOPE)
  set(${check_out} "${check}" PARENT_SCOPE)
endfunction()

foreach(name ${COURSE_NAMES})
  set(unit ${COURSE_UNIT_${name}})
  set(unit_dir ${course_root}/exercises/${unit})
  # An experiment exercise grades a probe run: a fixture runs the probe first (needs the apps
  # and the CIFAR-10 folder beside the repository).
  set(data_dir ${CMAKE_CURRENT_BINARY_DIR}/course-data/${name})
  set(fixture "")
  if(COURSE_PROBE_${name})
    if(NOT NORMLAB_BUILD_APPS)
      continue()
    endif()
    add_test(NAME course.${name}.probe COMMAND probe ${COURSE_PROBE_${name}} --threads 1
             --data ${PROJECT_SOURCE_DIR}/../shared/datasets/cifar10-jpeg --out ${data_dir})
    set_tests_properties(course.${name}.probe PROPERTIES FIXTURES_SETUP course_data_${name})
    list(APPEND course_tests course.${name}.probe)
    set(fixture course_data_${name})
  endif()
  course_args(solution_args ${name} ${data_dir} ${course_root}/solutions)
  course_args(template_args ${name} ${data_dir} ${unit_dir})
  string(REPLACE ";" "|" solution_joined "${solution_args}")
  string(REPLACE ";" "|" template_joined "${template_args}")

  course_grader(course_${name}_solution ${name} ${unit_dir} ${course_root}/solutions/${name}.cpp)
  add_test(NAME course.${name}.solution COMMAND course_${name}_solution ${solution_args})
  list(APPEND course_tests course.${name}.solution course.${name}.template)

  course_grader(course_${name}_template ${name} ${unit_dir} ${unit_dir}/${name}.cpp)
  add_test(NAME course.${name}.template COMMAND ${CMAKE_COMMAND}
           -DGRADER=$<TARGET_FILE:course_${name}_template> "-DARGS=${template_joined}"
           "-DEXPECT=not implemented yet" -P ${course_root}/expect_rejection.cmake)

  file(GLOB bugs ${course_root}/wrong/${name}--*.bug)
  if(NOT bugs)
    message(FATAL_ERROR "course exercise ${name} has no hidden wrong implementation")
  endif()
  foreach(bug_file ${bugs})
    get_filename_component(stem ${bug_file} NAME_WE)
    string(REPLACE "${name}--" "" bug ${stem})
    string(REPLACE "-" "_" target_bug ${bug})
    course_wrong_source(source check ${name} ${bug_file})
    course_grader(course_${name}_wrong_${target_bug} ${name} ${unit_dir} ${source})
    add_test(NAME course.${name}.wrong.${bug} COMMAND ${CMAKE_COMMAND}
             -DGRADER=$<TARGET_FILE:course_${name}_wrong_${target_bug}> "-DARGS=${solution_joined}"
             "-DEXPECT=FAIL  ${check}" -P ${course_root}/expect_rejection.cmake)
    list(APPEND course_tests course.${name}.wrong.${bug})
  endforeach()
endforeach()
set_tests_properties(${course_tests} PROPERTIES LABELS course)
foreach(t ${course_tests})
  string(REGEX REPLACE "^course\\.([^.]+)\\..*" "\\1" name ${t})
  if(COURSE_PROBE_${name} AND NOT t MATCHES "\\.probe$")
    set_tests_properties(${t} PROPERTIES FIXTURES_REQUIRED course_data_${name})
  endif()
endforeach()

# The student's path: make-workspace, build against this build tree, templates fail, solutions
# pass (uses the probe data of the experiment exercise).
if(NORMLAB_BUILD_APPS)
  add_test(NAME course.workspace COMMAND ${CMAKE_COMMAND} -DREPO=${PROJECT_SOURCE_DIR}
           -DBUILD=${PROJECT_BINARY_DIR} -DWORK=${CMAKE_CURRENT_BINARY_DIR}/course-workspace
           -DDATA=${CMAKE_CURRENT_BINARY_DIR}/course-data/depth_experiment
           -P ${course_root}/test_workspace.cmake)
  set_tests_properties(course.workspace PROPERTIES LABELS course TIMEOUT 900
                       FIXTURES_REQUIRED course_data_depth_experiment)
endif()
