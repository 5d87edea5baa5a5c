# typegrad::mpi: the optional MPI component (include/typegrad/mpi/), defined when MPI is found.
# Included from the top-level CMakeLists.txt after the tests; its headers are the only ones that
# include <mpi.h>, so nothing else pays for MPI.
# The C API through the CXX component (the project enables no C compiler); MPI_CXX_SKIP_MPICXX
# leaves out MPI's deprecated C++ bindings and their library (libmpi_cxx).
set(MPI_CXX_SKIP_MPICXX ON)
set(MPI_DETERMINE_LIBRARY_VERSION ON)  # MPI_CXX_LIBRARY_VERSION_STRING: which mpiexec flags to pass
find_package(MPI COMPONENTS CXX)
if(NOT MPI_CXX_FOUND)
  message(STATUS "typegrad: MPI not found, typegrad::mpi is not defined (Debian: libopenmpi-dev openmpi-bin)")
  return()
endif()

add_library(typegrad_mpi INTERFACE)
add_library(typegrad::mpi ALIAS typegrad_mpi)
set_target_properties(typegrad_mpi PROPERTIES EXPORT_NAME mpi)
target_link_libraries(typegrad_mpi INTERFACE typegrad MPI::MPI_CXX)
# Its own export set: find_package(typegrad) loads it only where MPI is found (typegrad-config.cmake).
install(TARGETS typegrad_mpi EXPORT typegrad-mpi-targets)
install(EXPORT typegrad-mpi-targets NAMESPACE typegrad:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/typegrad)

if(TYPEGRAD_BUILD_TESTS)
  find_package(Catch2 2.13 REQUIRED)
  # Not part of typegrad_tests: it needs MPI_Init before Catch2 and runs under mpirun.
  add_executable(typegrad_mpi_tests ${CMAKE_CURRENT_LIST_DIR}/../tests/mpi/mpi_main.cpp)
  target_link_libraries(typegrad_mpi_tests PRIVATE typegrad::mpi typegrad_strict Catch2::Catch2)
  set(typegrad_mpiexec_flags)
  if(MPI_CXX_LIBRARY_VERSION_STRING MATCHES "Open MPI")  # OpenMPI's: more ranks than cores, and CI runs as root
    set(typegrad_mpiexec_flags --oversubscribe --allow-run-as-root)
  endif()
  add_test(NAME typegrad_mpi_tests
           COMMAND ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} 2 ${typegrad_mpiexec_flags} ${MPIEXEC_PREFLAGS}
                   $<TARGET_FILE:typegrad_mpi_tests> ${MPIEXEC_POSTFLAGS})
  set_tests_properties(typegrad_mpi_tests PROPERTIES TIMEOUT 300 PROCESSORS 2)

  # The MPI headers compile on their own too (tests/CMakeLists.txt's check leaves them out: no mpi.h there).
  include(typegrad_header_check)
  file(GLOB typegrad_mpi_headers RELATIVE ${PROJECT_SOURCE_DIR}/include CONFIGURE_DEPENDS
       ${PROJECT_SOURCE_DIR}/include/typegrad/mpi/*.hpp)
  typegrad_add_header_check(typegrad_mpi_header_check HEADERS ${typegrad_mpi_headers} LINK typegrad::mpi typegrad_strict)
endif()

if(TYPEGRAD_BUILD_BENCH)
  add_executable(mpi_allreduce_bench ${CMAKE_CURRENT_LIST_DIR}/../bench/mpi_allreduce.cpp)
  target_link_libraries(mpi_allreduce_bench PRIVATE typegrad::mpi typegrad_strict)
  target_compile_options(mpi_allreduce_bench PRIVATE -O3)
endif()
