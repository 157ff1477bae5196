#pragma once
// <immintrin.h> for the AVX-512 kernels of features/src. GCC 12's AVX-512
// headers trip its own -Wmaybe-uninitialized (_mm512_undefined_ps as a
// pass-through operand): a false positive, silenced for the header's lines,
// where GCC reports it even when the kernels inline the intrinsics.
#if defined(__x86_64__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>
#pragma GCC diagnostic pop
#endif
