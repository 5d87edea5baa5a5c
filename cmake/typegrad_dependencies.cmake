# Finds typegrad's dependencies: Boost.Hana (libboost-dev) and xsimd (libxsimd-dev), header-only
# and needed by every user; nlohmann-json (nlohmann-json3-dev), needed only where the weight-file
# I/O is compiled: to build the typegrad library, or by users of a header-only typegrad.
include(CMakeFindDependencyMacro)
find_package(Boost 1.74 REQUIRED)
# Debian's xsimd config links a target `xtl` that it never defines: give it an empty one.
if(NOT TARGET xtl)
  add_library(xtl INTERFACE IMPORTED)
endif()
find_package(xsimd 8.1 REQUIRED)
# std::jthread (fit's threads, train/thread_pool.hpp).
find_package(Threads REQUIRED)
# typegrad's own CMakeLists.txt sets typegrad_compiles_io (it builds the library or compiles the
# I/O inline); an installed package's config sets it to whether it was built headers only.
if(typegrad_compiles_io)
  find_package(nlohmann_json 3 REQUIRED)
endif()
