# Finds typegrad's header-only dependencies: Boost.Hana (libboost-dev), xsimd (libxsimd-dev) and
# nlohmann-json (nlohmann-json3-dev).
include(CMakeFindDependencyMacro)
find_package(Boost 1.74 REQUIRED)
# Debian's xsimd config links a target `xtl` that it never defines: give it an empty one.
if(NOT TARGET xtl)
  add_library(xtl INTERFACE IMPORTED)
endif()
find_package(xsimd 8.1 REQUIRED)
# nlohmann-json (nlohmann-json3-dev) reads and writes the weight files' JSON header.
find_package(nlohmann_json 3 REQUIRED)
