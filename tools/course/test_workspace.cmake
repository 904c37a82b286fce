# cmake -DREPO=<repo> -DBUILD=<normlab build> -DWORK=<scratch folder> -DDATA=<probe output dir>
#       -P test_workspace.cmake
# The student's path end to end: make a workspace, build it against normlab's build tree, and
# check that every exercise fails as handed out; then put the reference solutions in, rebuild,
# and check that every exercise passes.
file(REMOVE_RECURSE ${WORK})
execute_process(COMMAND ${REPO}/tools/course/make-workspace ${WORK} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "make-workspace failed")
endif()
# A second make-workspace into the same folder must refuse: it would overwrite a student's work.
execute_process(COMMAND ${REPO}/tools/course/make-workspace ${WORK} RESULT_VARIABLE rc
                ERROR_VARIABLE refusal OUTPUT_QUIET)
if(rc EQUAL 0 OR NOT refusal MATCHES "refusing to overwrite")
  message(FATAL_ERROR "make-workspace into a non-empty folder did not refuse: ${refusal}")
endif()
file(GLOB csvs ${DATA}/*.csv)
file(COPY ${csvs} DESTINATION ${WORK}/08-probes)

function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  set(rc ${rc} PARENT_SCOPE)
  set(out "${out}" PARENT_SCOPE)
  message("-- ${what}: exit ${rc}")
endfunction()
function(build)
  run("configure" ${CMAKE_COMMAND} -S ${WORK} -B ${WORK}/build -Dnormlab_DIR=${BUILD})
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${out}")
  endif()
  run("build" ${CMAKE_COMMAND} --build ${WORK}/build -j2)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${out}")
  endif()
endfunction()

build()
run("grade the blank templates" ${CMAKE_CTEST_COMMAND} --test-dir ${WORK}/build)
string(REGEX MATCH "([0-9]+)% tests passed" passed "${out}")
if(rc EQUAL 0 OR NOT passed STREQUAL "0% tests passed")
  message(FATAL_ERROR "the blank templates must fail every exercise:\n${out}")
endif()

file(GLOB units LIST_DIRECTORIES true ${WORK}/[0-9]*)
foreach(unit ${units})
  file(GLOB handed_out ${unit}/*.cpp ${unit}/*.answers.json)
  foreach(file ${handed_out})
    get_filename_component(leaf ${file} NAME)
    # Read and written, not copied: a copy keeps the solution's older time stamp and the build
    # would not see the change, as it would not for a student's edit.
    file(READ ${REPO}/tools/course/solutions/${leaf} solution)
    file(WRITE ${file} "${solution}")
  endforeach()
endforeach()
build()
run("grade the reference solutions" ${CMAKE_CTEST_COMMAND} --test-dir ${WORK}/build --output-on-failure)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the reference solutions must pass every exercise:\n${out}")
endif()
message("${out}")
