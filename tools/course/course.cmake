# The course's exercises, shared by the student workspace (workspace/CMakeLists.txt) and
# normlab's own tests (tests/CMakeLists.txt), which also grade every reference solution and every
# hidden wrong implementation.
#
# COURSE_EXERCISES: pairs of exercise name and unit folder. An exercise <name> in unit <unit> is
#   <unit>/<name>.hpp         the statement and the interface (given)
#   <unit>/<name>.cpp         the student's file (the template has todo() bodies)
#   <unit>/<name>.answers.json  answers to the questions, for experiment exercises
#   grader/grade_<name>.cpp   the checks
set(COURSE_EXERCISES
  strided_views 01-tensors
  softplus 02-autograd
  conv_backward 03-convolution
  batchnorm_backward 04-batchnorm
  partial_batchnorm 04-batchnorm
  groupnorm 05-group-norms
  weight_standardization 06-weight-side
  depth_experiment 08-probes)

# COURSE_NAMES: the exercise names in order; COURSE_UNIT_<name>: its unit folder.
set(COURSE_NAMES "")
set(course_pending_name "")
foreach(item ${COURSE_EXERCISES})
  if(course_pending_name STREQUAL "")
    set(course_pending_name ${item})
  else()
    list(APPEND COURSE_NAMES ${course_pending_name})
    set(COURSE_UNIT_${course_pending_name} ${item})
    set(course_pending_name "")
  endif()
endforeach()

# Command-line arguments of a grader, if any: @DATA@ is the folder the student's probe run
# wrote to, @ANSWERS@ the implementation's <name>.answers.json beside it.
set(COURSE_ARGS_depth_experiment @DATA@/depth.csv @ANSWERS@)
# The probe command that produces @DATA@ (run by the student; by a test fixture in normlab's own
# tests), without --out and --data.
set(COURSE_PROBE_depth_experiment depth --norm none --norm bn --model resnet20 --batch-size 32
    --seed 0)

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

# The grader arguments of exercise <name> for an implementation whose answers file (if any) lies
# in <answers_dir>.
function(course_args out name data_dir answers_dir)
  string(REPLACE "@DATA@" "${data_dir}" a "${COURSE_ARGS_${name}}")
  string(REPLACE "@ANSWERS@" "${answers_dir}/${name}.answers.json" a "${a}")
  set(${out} "${a}" PARENT_SCOPE)
endfunction()
