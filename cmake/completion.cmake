# completion.cmake: installs the bash completion of the embstore command (tools/embstore.bash-completion) where
# bash-completion looks for it: the completionsdir its pkg-config file names, moved under this install prefix;
# without bash-completion's pkg-config file, share/bash-completion/completions.
if(NOT EMBSTORE_INSTALL)
  return()
endif()
set(completions_dir ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)
find_package(PkgConfig QUIET)
if(PKG_CONFIG_FOUND)
  execute_process(COMMAND ${PKG_CONFIG_EXECUTABLE} --define-variable=prefix=${CMAKE_INSTALL_PREFIX}
      --variable=completionsdir bash-completion
    OUTPUT_VARIABLE pc_dir OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE pc_status ERROR_QUIET)
  if(pc_status EQUAL 0 AND IS_ABSOLUTE "${pc_dir}")
    # Relative to the prefix when it lies under it, so that `cmake --install --prefix DIR` moves it along.
    cmake_path(IS_PREFIX CMAKE_INSTALL_PREFIX "${pc_dir}" NORMALIZE under_prefix)
    if(under_prefix)
      cmake_path(RELATIVE_PATH pc_dir BASE_DIRECTORY "${CMAKE_INSTALL_PREFIX}" OUTPUT_VARIABLE completions_dir)
    else()
      set(completions_dir ${pc_dir})
    endif()
  endif()
endif()
set(EMBSTORE_BASH_COMPLETION_DIR ${completions_dir} CACHE STRING
  "Where the bash completion of embstore is installed (relative to the prefix, or absolute)")
install(FILES ${PROJECT_SOURCE_DIR}/tools/embstore.bash-completion DESTINATION ${EMBSTORE_BASH_COMPLETION_DIR}
  RENAME embstore)
