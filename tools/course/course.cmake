# The course's exercises, shared by the student workspace (workspace/CMakeLists.txt) and
# normlab's own tests (tests/CMakeLists.txt), which also grade every reference solution and every
# hidden wrong implementation.
#
# COURSE_EXERCISES: pairs of exercise name and unit folder. An exercise <name> in unit <unit> is
#   <unit>/<name>.hpp         the statement and the interface (given)
#   <unit>/<name>.cpp         the student's file (the template has todo() bodies)
#   grader/grade_<name>.cpp   the checks
set(COURSE_EXERCISES
  softplus 02-autograd
  conv_backward 03-convolution
  batchnorm_backward 04-batchnorm
  partial_batchnorm 04-batchnorm
  groupnorm 05-group-norms)

# course_grader(<target> <name> <unit folder> <implementation .cpp> [<grader object library>])
# builds one grader executable for one implementation of exercise <name>. COURSE_GRADER_DIR is
# the folder that holds grader/.
function(course_grader target name unit_dir implementation)
  if(NOT TARGET course_checks_${name})
    add_library(course_checks_${name} OBJECT ${COURSE_GRADER_DIR}/grader/grade_${name}.cpp)
    target_include_directories(course_checks_${name} PRIVATE ${COURSE_GRADER_DIR} ${unit_dir})
    target_link_libraries(course_checks_${name} PRIVATE normlab::normlab)
  endif()
  add_executable(${target} ${implementation} $<TARGET_OBJECTS:course_checks_${name}>)
  target_include_directories(${target} PRIVATE ${COURSE_GRADER_DIR} ${unit_dir})
  target_link_libraries(${target} PRIVATE normlab::normlab)
endfunction()
