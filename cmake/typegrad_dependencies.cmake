# Finds typegrad's header-only dependencies: Boost.Hana (libboost-dev) and xsimd (libxsimd-dev).
include(CMakeFindDependencyMacro)
find_package(Boost 1.74 REQUIRED)
# Debian's xsimd config links a target `xtl` that it never defines: give it an empty one.
if(NOT TARGET xtl)
  add_library(xtl INTERFACE IMPORTED)
endif()
find_package(xsimd 8.1 REQUIRED)
