# FindxxHash.cmake: xxHash from the distribution (Debian: libxxhash-dev), as the imported target xxHash::xxhash.
# Debian's package ships no CMake package of its own, only a pkg-config file; find_library rather than pkg-config
# so that a cross build (cmake/toolchain-aarch64.cmake) picks the multiarch copy. Installed with embstore's CMake
# package: the static library's exported link interface names xxHash::xxhash, never a path of the build machine.
# Sets XXHASH_INCLUDE_DIR, XXHASH_LIBRARY (cache) and xxHash_FOUND.
find_path(XXHASH_INCLUDE_DIR xxhash.h)
find_library(XXHASH_LIBRARY NAMES xxhash)

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(xxHash REQUIRED_VARS XXHASH_LIBRARY XXHASH_INCLUDE_DIR)

if(xxHash_FOUND AND NOT TARGET xxHash::xxhash)
  add_library(xxHash::xxhash UNKNOWN IMPORTED)
  set_target_properties(xxHash::xxhash PROPERTIES
    IMPORTED_LOCATION "${XXHASH_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${XXHASH_INCLUDE_DIR}")
endif()
mark_as_advanced(XXHASH_INCLUDE_DIR XXHASH_LIBRARY)
