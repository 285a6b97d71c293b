# man.cmake: the man page embstore(1), made from docs/embstore.1.scd by scdoc (Debian: scdoc) when it is there;
# without scdoc the build goes on without the page (tests/man_test.sh then reports itself skipped).
find_program(SCDOC scdoc)
if(SCDOC)
  set(EMBSTORE_MAN_PAGE ${PROJECT_BINARY_DIR}/embstore.1)
  # Through a temporary name: a failed scdoc must not leave a truncated page that looks up to date.
  add_custom_command(OUTPUT ${EMBSTORE_MAN_PAGE}
    COMMAND sh -c [["$1" < "$2" > "$3.tmp" && mv "$3.tmp" "$3"]] sh
      ${SCDOC} ${PROJECT_SOURCE_DIR}/docs/embstore.1.scd ${EMBSTORE_MAN_PAGE}
    DEPENDS ${PROJECT_SOURCE_DIR}/docs/embstore.1.scd
    COMMENT "scdoc: embstore.1"
    VERBATIM)
  add_custom_target(embstore_man ALL DEPENDS ${EMBSTORE_MAN_PAGE})
  if(EMBSTORE_INSTALL)
    install(FILES ${EMBSTORE_MAN_PAGE} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
  endif()
else()
  message(STATUS "scdoc not found: the man page embstore(1) is not built")
endif()
