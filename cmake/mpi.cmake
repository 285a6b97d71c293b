# mpi.cmake: libembstore_mpi (include/embstore_mpi.h, src/mpi/), a shard set served over an MPI communicator,
# built only when MPI is found (Debian: libopenmpi-dev) so that libembstore itself never depends on MPI. It links
# libembstore like any user of the public header. Included by the top CMakeLists.txt; sets EMBSTORE_HAVE_MPI.
option(EMBSTORE_WITH_MPI "Build libembstore_mpi when MPI is found" ON)
set(EMBSTORE_HAVE_MPI OFF)
if(EMBSTORE_WITH_MPI)
  find_package(MPI COMPONENTS C)
  if(MPI_C_FOUND)
    set(EMBSTORE_HAVE_MPI ON)
  endif()
endif()
if(NOT EMBSTORE_HAVE_MPI)
  message(STATUS "embstore: MPI not found, libembstore_mpi and its tests are left out")
  return()
endif()

set(EMBSTORE_MPI_SOURCES
  src/mpi/mpi_util.c
  src/mpi/mpi_describe.c
  src/mpi/mpi_parse.c
  src/mpi/mpi_layout.c
  src/mpi/mpi_open.c
  src/mpi/mpi_route.c
  src/mpi/mpi_gather.c
  src/mpi/mpi_bag.c
  src/mpi/mpi_scatter.c
  src/mpi/mpi_keys.c
)
add_library(embstore_mpi_objects OBJECT ${EMBSTORE_MPI_SOURCES})
target_include_directories(embstore_mpi_objects PRIVATE include src/mpi)
target_link_libraries(embstore_mpi_objects PRIVATE MPI::MPI_C)
target_compile_options(embstore_mpi_objects PRIVATE ${EMBSTORE_WARNINGS})
set_target_properties(embstore_mpi_objects PROPERTIES POSITION_INDEPENDENT_CODE ON C_VISIBILITY_PRESET hidden)

add_library(embstore_mpi SHARED $<TARGET_OBJECTS:embstore_mpi_objects>)
add_library(embstore_mpi_static STATIC $<TARGET_OBJECTS:embstore_mpi_objects>)
set_target_properties(embstore_mpi PROPERTIES VERSION ${PROJECT_VERSION} SOVERSION ${PROJECT_VERSION_MAJOR})
set_target_properties(embstore_mpi_static PROPERTIES OUTPUT_NAME embstore_mpi)
target_link_libraries(embstore_mpi PUBLIC embstore MPI::MPI_C)
target_link_libraries(embstore_mpi_static PUBLIC embstore_static MPI::MPI_C)
foreach(t IN ITEMS embstore_mpi embstore_mpi_static)
  target_include_directories(${t} PUBLIC
    $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include> $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
endforeach()
add_library(embstore::embstore_mpi ALIAS embstore_mpi)
add_library(embstore::embstore_mpi_static ALIAS embstore_mpi_static)
