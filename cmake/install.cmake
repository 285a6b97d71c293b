# install.cmake: the header, both libraries, the CMake package (find_package(embstore CONFIG) ->
# embstore::embstore, embstore::embstore_static; with COMPONENTS mpi also embstore::embstore_mpi and
# embstore::embstore_mpi_static) and a pkg-config file. Included by the top CMakeLists.txt.
include(CMakePackageConfigHelpers)
set(EMBSTORE_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/embstore)

install(FILES ${PROJECT_SOURCE_DIR}/include/embstore.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS embstore embstore_static EXPORT embstoreTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${PROJECT_SOURCE_DIR}/LICENSE ${PROJECT_SOURCE_DIR}/NOTICE DESTINATION ${CMAKE_INSTALL_DOCDIR})

# CMake package. The static library's link interface names xxHash::xxhash, Jansson::jansson and Minizip::minizip;
# embstoreConfig.cmake defines them with the find modules installed beside it, so the exported files hold no path
# of the build machine. EMBSTORE_HAVE_MPI tells it whether the component `mpi` was built.
install(EXPORT embstoreTargets NAMESPACE embstore:: DESTINATION ${EMBSTORE_CMAKEDIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/embstoreConfig.cmake.in
  ${PROJECT_BINARY_DIR}/embstoreConfig.cmake INSTALL_DESTINATION ${EMBSTORE_CMAKEDIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/embstoreConfigVersion.cmake COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/embstoreConfig.cmake ${PROJECT_BINARY_DIR}/embstoreConfigVersion.cmake
  ${PROJECT_SOURCE_DIR}/cmake/FindxxHash.cmake ${PROJECT_SOURCE_DIR}/cmake/FindJansson.cmake
  ${PROJECT_SOURCE_DIR}/cmake/FindMinizip.cmake DESTINATION ${EMBSTORE_CMAKEDIR})

# pkg-config. The file finds the prefix from its own directory (${pcfiledir}) instead of naming it, because the
# prefix may still change after configuring (`cmake --install build --prefix DIR`, as the README does) and a
# staged copy (DESTDIR) then works where it lies. How many directories to go up comes from CMAKE_INSTALL_LIBDIR:
# lib, or lib/x86_64-linux-gnu under /usr on Debian. Only an absolute CMAKE_INSTALL_LIBDIR or INCLUDEDIR is
# written as it is (such a file cannot move).
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(EMBSTORE_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
  set(EMBSTORE_PC_LIBDIR "${CMAKE_INSTALL_LIBDIR}")
else()
  file(RELATIVE_PATH up "/prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/prefix")
  string(REGEX REPLACE "/$" "" up "${up}")
  set(EMBSTORE_PC_PREFIX "\${pcfiledir}/${up}")
  set(EMBSTORE_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(EMBSTORE_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
else()
  set(EMBSTORE_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
configure_file(${PROJECT_SOURCE_DIR}/cmake/embstore.pc.in ${PROJECT_BINARY_DIR}/embstore.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/embstore.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# libembstore_mpi (cmake/mpi.cmake), where MPI was found: its header, both libraries and embstore_mpi.pc, whose
# mpi-c is the C binding of Debian's default MPI (an alternative, like mpicc). Its targets are exported in a file
# of their own, which embstoreConfig.cmake reads only for the component `mpi`, so that a consumer of the core
# library never needs MPI to find the package.
if(EMBSTORE_HAVE_MPI)
  install(FILES ${PROJECT_SOURCE_DIR}/include/embstore_mpi.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  install(TARGETS embstore_mpi embstore_mpi_static EXPORT embstoreMpiTargets
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  install(EXPORT embstoreMpiTargets NAMESPACE embstore:: DESTINATION ${EMBSTORE_CMAKEDIR})
  configure_file(${PROJECT_SOURCE_DIR}/cmake/embstore_mpi.pc.in ${PROJECT_BINARY_DIR}/embstore_mpi.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/embstore_mpi.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endif()

# The Python package (python/embstore) into the site directory of the interpreter's layout under the prefix:
# lib/python3.X/dist-packages for Debian's python3 (on sys.path for the prefixes /usr/local and /usr), else
# lib/python3.X/site-packages. Beside it, a relative symbolic link embstore/libembstore.so.0 to the installed
# library, which the package tries before the system loader: /usr/local/lib needs no ldconfig, and a staged
# (DESTDIR) or moved prefix keeps working. EMBSTORE_PYTHON_DIR overrides the directory (relative to the prefix,
# or absolute); empty leaves the package out.
find_program(PYTHON3 NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH)
if(NOT PYTHON3)
  find_program(PYTHON3 NAMES python3)
endif()
if(PYTHON3 AND NOT DEFINED EMBSTORE_PYTHON_DIR)
  execute_process(COMMAND ${PYTHON3} -c
    "import sysconfig as s; print('lib/python%s/%s-packages' % (s.get_python_version(), 'dist' if 'deb_system' in s.get_scheme_names() else 'site'))"
    OUTPUT_VARIABLE EMBSTORE_PYTHON_DIR_DEFAULT OUTPUT_STRIP_TRAILING_WHITESPACE)
endif()
set(EMBSTORE_PYTHON_DIR "${EMBSTORE_PYTHON_DIR_DEFAULT}" CACHE STRING
  "Where the Python package is installed (relative to the prefix, or absolute); empty: not installed")
if(EMBSTORE_PYTHON_DIR)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/python/embstore DESTINATION ${EMBSTORE_PYTHON_DIR}
    FILES_MATCHING PATTERN "*.py" PATTERN "__pycache__" EXCLUDE)
  install(CODE "
    set(prefix \"\${CMAKE_INSTALL_PREFIX}\")
    set(pkg \"${EMBSTORE_PYTHON_DIR}/embstore\")
    set(lib \"${CMAKE_INSTALL_LIBDIR}/libembstore.so.${PROJECT_VERSION_MAJOR}\")
    if(NOT IS_ABSOLUTE \"\${pkg}\")
      set(pkg \"\${prefix}/\${pkg}\")
    endif()
    if(NOT IS_ABSOLUTE \"\${lib}\")
      set(lib \"\${prefix}/\${lib}\")
    endif()
    file(RELATIVE_PATH target \"\${pkg}\" \"\${lib}\")
    set(link \"\$ENV{DESTDIR}\${pkg}/libembstore.so.${PROJECT_VERSION_MAJOR}\")
    message(STATUS \"Installing: \${link} -> \${target}\")
    file(REMOVE \"\${link}\")
    file(CREATE_LINK \"\${target}\" \"\${link}\" SYMBOLIC)
  ")
endif()
