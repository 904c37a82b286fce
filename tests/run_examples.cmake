# Builds every program in apps/examples/ as a separate CMake project that finds normlab with
# find_package(normlab) (the build tree here: normlab_DIR; an install prefix in CI), and runs it.
#   cmake -DEXAMPLES=<apps/examples> -DWORK=<folder> -Dnormlab_DIR=<build> -P run_examples.cmake
#   cmake -DEXAMPLES=<apps/examples> -DWORK=<folder> -DPREFIX=<install prefix> -P run_examples.cmake
set(find_args "")
if(normlab_DIR)
  list(APPEND find_args -Dnormlab_DIR=${normlab_DIR})
endif()
if(PREFIX)
  list(APPEND find_args -DCMAKE_PREFIX_PATH=${PREFIX})
endif()
file(GLOB examples LIST_DIRECTORIES true ${EXAMPLES}/*)
foreach(dir ${examples})
  if(NOT EXISTS ${dir}/CMakeLists.txt)
    continue()
  endif()
  get_filename_component(name ${dir} NAME)
  message(STATUS "example ${name}")
  execute_process(COMMAND ${CMAKE_COMMAND} -S ${dir} -B ${WORK}/${name} -DCMAKE_BUILD_TYPE=Release
                          ${find_args}
                  RESULT_VARIABLE rc OUTPUT_QUIET)
  if(rc)
    message(FATAL_ERROR "example ${name}: configuring with find_package(normlab) failed")
  endif()
  execute_process(COMMAND ${CMAKE_COMMAND} --build ${WORK}/${name} RESULT_VARIABLE rc)
  if(rc)
    message(FATAL_ERROR "example ${name}: build failed")
  endif()
  execute_process(COMMAND ${WORK}/${name}/${name} WORKING_DIRECTORY ${WORK}/${name}
                  RESULT_VARIABLE rc TIMEOUT 300)
  if(rc)
    message(FATAL_ERROR "example ${name}: exited with ${rc}")
  endif()
endforeach()
