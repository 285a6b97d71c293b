# FindMinizip.cmake: minizip, zlib's unzip library, from the distribution (Debian: libminizip-dev), as the imported
# target Minizip::minizip; headers as <minizip/unzip.h>. Debian ships it as a shared and a static library (libzip
# has no static one there, which a fully static consumer and the aarch64 check need). find_library rather than
# pkg-config so that a cross build picks the multiarch copy. A static libminizip.a needs zlib after it, which
# the target then names (ZLIB::ZLIB). Installed with embstore's CMake package, like FindxxHash.cmake.
# Sets MINIZIP_INCLUDE_DIR, MINIZIP_LIBRARY (cache) and Minizip_FOUND.
find_path(MINIZIP_INCLUDE_DIR minizip/unzip.h)
find_library(MINIZIP_LIBRARY NAMES minizip)

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(Minizip REQUIRED_VARS MINIZIP_LIBRARY MINIZIP_INCLUDE_DIR)

if(Minizip_FOUND AND NOT TARGET Minizip::minizip)
  add_library(Minizip::minizip UNKNOWN IMPORTED)
  set_target_properties(Minizip::minizip PROPERTIES
    IMPORTED_LOCATION "${MINIZIP_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${MINIZIP_INCLUDE_DIR}")
  if(MINIZIP_LIBRARY MATCHES "\\.a$")
    find_package(ZLIB REQUIRED)
    set_target_properties(Minizip::minizip PROPERTIES INTERFACE_LINK_LIBRARIES ZLIB::ZLIB)
  endif()
endif()
mark_as_advanced(MINIZIP_INCLUDE_DIR MINIZIP_LIBRARY)
