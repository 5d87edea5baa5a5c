// TYPEGRAD_IO_INLINE: how the compiled part of typegrad (src/) is declared.
#pragma once

// Why: the weight-file I/O needs nlohmann-json, whose header alone costs a translation unit about
// 2.5 s; the CSV reader, the PNG and chart writers, the path integral of integrated gradients, the
// standardizer's metadata text and the thread pool depend on no network type either. All are
// compiled once into the typegrad library (src/), not in every translation unit that uses them.
// Define TYPEGRAD_HEADER_ONLY (CMake: -DTYPEGRAD_HEADER_ONLY=ON) to use typegrad without that
// library: the headers then include the definitions (their detail/*_impl.ipp), as inline functions.
#ifdef TYPEGRAD_HEADER_ONLY
#define TYPEGRAD_IO_INLINE inline
#else
#define TYPEGRAD_IO_INLINE
#endif
