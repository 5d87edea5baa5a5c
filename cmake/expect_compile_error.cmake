# cmake -DTARGET=t -DBINARY_DIR=d -DEXPECTED=regex -P expect_compile_error.cmake
# Builds TARGET, which must fail with compiler output matching EXPECTED.
execute_process(COMMAND ${CMAKE_COMMAND} --build ${BINARY_DIR} --target ${TARGET}
                RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(result EQUAL 0)
  message(FATAL_ERROR "${TARGET} compiled, but it must not")
endif()
if(NOT "${out}${err}" MATCHES "${EXPECTED}")
  message(FATAL_ERROR "${TARGET} failed without the expected message '${EXPECTED}':\n${out}${err}")
endif()
message(STATUS "${TARGET} failed as expected: '${EXPECTED}'")
