# install.cmake: the header, both libraries, the CMake package (find_package(embstore CONFIG) ->
# embstore::embstore, embstore::embstore_static) and a pkg-config file. Included by the top CMakeLists.txt.
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
# of the build machine.
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
