# packaging.cmake (included by tests/CMakeLists.txt): the tests of what embstore installs, each registered once,
# not once per kernel set: consumers of the installed package (its component mpi too) and of the source tree, the
# man page, the bash completion. Each exits 77 (skipped) when a tool it needs is missing.
if(NOT CMAKE_CROSSCOMPILING)
  # Its own configures and builds, in a work directory of the build tree (kept for a look after a failure).
  add_test(NAME consumer_test COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/consumer_test.sh ${PROJECT_SOURCE_DIR}
    ${CMAKE_CURRENT_BINARY_DIR}/consumer ${CMAKE_COMMAND} "${CMAKE_GENERATOR}" ${CMAKE_C_COMPILER}
    "${CMAKE_LIBRARY_ARCHITECTURE}" ${PROJECT_VERSION})
  set_tests_properties(consumer_test PROPERTIES SKIP_RETURN_CODE 77 FIXTURES_SETUP embstore_installed)
  # The component mpi of what consumer_test installed, on two ranks (skipped without MPI); Open MPI's environment
  # as tests/mpi/ sets it, and one MPI job at a time.
  add_test(NAME consumer_mpi_test COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/consumer_mpi_test.sh ${PROJECT_SOURCE_DIR}
    ${CMAKE_CURRENT_BINARY_DIR}/consumer ${CMAKE_COMMAND} "${CMAKE_GENERATOR}" ${CMAKE_C_COMPILER}
    "${MPIEXEC_EXECUTABLE}")
  set_tests_properties(consumer_mpi_test PROPERTIES SKIP_RETURN_CODE 77 FIXTURES_REQUIRED embstore_installed
    RESOURCE_LOCK mpi ENVIRONMENT
    "OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1;OMPI_MCA_rmaps_base_oversubscribe=1")
endif()
add_test(NAME man_test COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/man_test.sh "${EMBSTORE_MAN_PAGE}"
  $<TARGET_FILE:embstore_cli>)
add_test(NAME completion_test COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/completion_test.sh
  ${PROJECT_SOURCE_DIR}/tools/embstore.bash-completion $<TARGET_FILE:embstore_cli>)
set_tests_properties(man_test completion_test PROPERTIES SKIP_RETURN_CODE 77)
