# cmake -DGRADER=<executable> [-DARGS=a|b] -DEXPECT=<text> -P expect_rejection.cmake
# Passes only when the grader rejects the implementation it was built with (non-zero exit) and
# its report contains EXPECT: a blank template ("not implemented yet") or a hidden wrong
# implementation ("FAIL  <the check that must catch it>").
string(REPLACE "|" ";" args "${ARGS}")
execute_process(COMMAND ${GRADER} ${args} OUTPUT_VARIABLE out ERROR_VARIABLE out RESULT_VARIABLE rc)
message("${out}")
if(rc EQUAL 0)
  message(FATAL_ERROR "the grader accepted an implementation it must reject (expected: ${EXPECT})")
endif()
string(FIND "${out}" "${EXPECT}" at)
if(at EQUAL -1)
  message(FATAL_ERROR "the grader rejected it, but its report lacks \"${EXPECT}\"")
endif()
