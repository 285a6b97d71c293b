# FindJansson.cmake: jansson from the distribution (Debian: libjansson-dev), as the imported target Jansson::jansson.
# find_library rather than pkg-config so that a cross build (cmake/toolchain-aarch64.cmake) picks the multiarch
# copy. Installed with embstore's CMake package, like FindxxHash.cmake: the static library's exported link
# interface names Jansson::jansson, never a path of the build machine.
# Sets JANSSON_INCLUDE_DIR, JANSSON_LIBRARY (cache) and Jansson_FOUND.
find_path(JANSSON_INCLUDE_DIR jansson.h)
find_library(JANSSON_LIBRARY NAMES jansson)

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(Jansson REQUIRED_VARS JANSSON_LIBRARY JANSSON_INCLUDE_DIR)

if(Jansson_FOUND AND NOT TARGET Jansson::jansson)
  add_library(Jansson::jansson UNKNOWN IMPORTED)
  set_target_properties(Jansson::jansson PROPERTIES
    IMPORTED_LOCATION "${JANSSON_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${JANSSON_INCLUDE_DIR}")
endif()
mark_as_advanced(JANSSON_INCLUDE_DIR JANSSON_LIBRARY)
