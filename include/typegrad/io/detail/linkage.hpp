// TYPEGRAD_IO_INLINE: how the compiled part of typegrad (the weight-file I/O) is declared.
#pragma once

// Why: the weight-file I/O needs nlohmann-json, whose header alone costs a translation unit about
// 2.5 s. It is compiled once into the typegrad library (src/), so no public header includes it.
// Define TYPEGRAD_HEADER_ONLY (CMake: -DTYPEGRAD_HEADER_ONLY=ON) to use typegrad without that
// library: io/safetensors.hpp and io/weights.hpp then include the definitions, as inline functions.
#ifdef TYPEGRAD_HEADER_ONLY
#define TYPEGRAD_IO_INLINE inline
#else
#define TYPEGRAD_IO_INLINE
#endif
