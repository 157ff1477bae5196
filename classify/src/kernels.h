#pragma once
// Distance kernels for exact kNN. Each computes one query against a block
// of training rows. Each is compiled for AVX-512, AVX2 and baseline x86-64,
// and the first call picks one by ActiveIsa() (scenelab/data/cpu.h): the CPU's
// best, capped by SCENELAB_ISA, so the binary never executes an instruction
// the CPU lacks and the tests can run every path. The float kernels sum in 16
// fixed lanes, so every path returns the same bits.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>
#if defined(__linux__)
#include <sys/mman.h>
#endif
#include <utility>
#include <vector>

namespace scenelab::classify::kernels {

// resize() without zero-filling: the byte copies of a training set (tens of
// MB) are written in parallel right after, so the pages are touched once.
constexpr std::size_t kHugePage = std::size_t{2} << 20;
constexpr std::size_t kHugeFrom = std::size_t{8} << 20;
template <typename T>
struct UninitAllocator : std::allocator<T> {
  template <typename U>
  struct rebind {
    using other = UninitAllocator<U>;
  };
  UninitAllocator() = default;
  template <typename U>
  UninitAllocator(const UninitAllocator<U>&) noexcept {}
  // Copies of tens of MB go on transparent huge pages where the kernel
  // allows them on request: 512 times fewer page faults while packing.
  T* allocate(std::size_t n) {
    const std::size_t bytes = n * sizeof(T);
    if (bytes < kHugeFrom) return std::allocator<T>::allocate(n);
    const std::size_t rounded = (bytes + kHugePage - 1) / kHugePage * kHugePage;
    void* p = std::aligned_alloc(kHugePage, rounded);
    if (!p) throw std::bad_alloc();
#if defined(__linux__)
    madvise(p, rounded, MADV_HUGEPAGE);  // advice only: failure just means small pages
#endif
    return static_cast<T*>(p);
  }
  void deallocate(T* p, std::size_t n) {
    if (n * sizeof(T) < kHugeFrom)
      std::allocator<T>::deallocate(p, n);
    else
      std::free(p);
  }
  template <typename U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <typename U, typename... A>
  void construct(U* p, A&&... a) {
    ::new (static_cast<void*>(p)) U(std::forward<A>(a)...);
  }
};
template <typename T>
using UninitVector = std::vector<T, UninitAllocator<T>>;

// out[j] = sum_d |q[d] - t[j*dim + d]| for j in [0, n)
void L1Block(const float* q, const float* t, std::size_t n, std::size_t dim, float* out);
// out[j] = sum_d (q-t)^2 / (q+t), terms with q+t <= 0 skipped
void Chi2Block(const float* q, const float* t, std::size_t n, std::size_t dim, float* out);
// The instruction set L1Block, Chi2Block, Dot and Axpy use: "avx512", "avx2" or "scalar".
const char* FloatBlockIsa();
// sum_d a[d] * b[d], in the same 16 lanes on every path.
float Dot(const float* a, const float* b, std::size_t n);
// y[d] += alpha * x[d]
void Axpy(float alpha, const float* x, float* y, std::size_t n);

// L1 on 8-bit data (raw pixels): rows of `stride` bytes, stride a multiple of
// kByteRowAlign and zero-padded. out[j] = scale * sum_d |q[d] - t[j*stride + d]|,
// the integer sum exact. Runs on AVX-512BW (vpsadbw, 64 bytes per instruction)
// or AVX2 when the CPU has them (checked at run time), else scalar code.
constexpr std::size_t kByteRowAlign = 64;
void L1BlockU8(const std::uint8_t* q, const std::uint8_t* t, std::size_t n, std::size_t stride, float scale,
               float* out);
// The instruction set L1BlockU8 uses on this CPU: "avx512bw", "avx2" or "scalar".
const char* L1BlockU8Isa();

// Exact squared L2 on 8-bit data: |q|^2 + |t|^2 - 2 q.t with the dot products
// summed in int32 (784 x 255^2 fits with room to spare), so the distances are
// integers and exact. Paths, picked at run time: AMX int8 tiles (tdpbusd on
// the same panels, 16 x 16 x 64 per instruction) > AVX-512 VNNI (vpdpbusd on
// training rows packed as panels, below) > AVX-512BW > AVX2 (vpmaddwd on
// zero-extended bytes) > scalar.
//
// out[j] = sum_d q[d] * t[j*stride + d] over rows of `stride` bytes
// (a multiple of kByteRowAlign, zero-padded): the non-VNNI paths.
void DotBlockU8(const std::uint8_t* q, const std::uint8_t* t, std::size_t n, std::size_t stride, std::int32_t* out);

// Training rows for vpdpbusd (u8 x s8): panels of 16 rows, each panel
// `groups` groups of 64 bytes (4 consecutive bytes of each of the 16
// rows), stored as t - 128; the shift is undone with 128 * sum(q). 16
// consecutive groups of a panel are exactly an AMX B tile for tdpbusd (16
// rows of 16 dwords), so both paths read one packing.
struct U8Panels {
  std::size_t rows = 0;
  std::size_t groups = 0;  // ceil(dim / 4), rounded up to group_align: 4-byte groups per row (bytes past dim are zero)
  std::size_t panels = 0;  // ceil(rows / 16); rows past `rows` are zero bytes
  UninitVector<std::int8_t> packed;
};
// `rows`: n rows of `stride` bytes, of which the first `dim` are data and
// the rest zero. group_align = kTileGroups packs whole 64-byte tile columns
// (the tile path needs them); ceil(dim / 4) rounded up to it must not pass
// stride / 4.
constexpr std::size_t kTileGroups = 16;
U8Panels PackU8Panels(const std::uint8_t* rows, std::size_t n, std::size_t stride, std::size_t dim, int threads = 1,
                      std::size_t group_align = 1);
// True when DotPanelsU8 may run: the CPU has AVX-512 VNNI and SCENELAB_ISA
// does not cap it.
bool PanelsSupported();
// Exact dots of `nq` (1..4) queries (`stride` bytes each, q_sum[r] = sum of
// query r's bytes) with the rows of panels [panel0, panel0 + npanels):
// out[r * out_stride + 16 * (p - panel0) + lane]. Requires PanelsSupported().
void DotPanelsU8(const U8Panels& t, const std::uint8_t* const* q, const std::int32_t* q_sum, int nq, std::size_t panel0,
                 std::size_t npanels, std::int32_t* out, std::size_t out_stride);
// True when DotTilesU8 may run: the CPU has AMX int8, Linux granted the
// process its tiles, and SCENELAB_ISA does not cap it below amx; or
// SCENELAB_TILE_MODEL=1 asks for the tile path on the software model below
// (at the vnni level and above; slow, for testing the whole kNN search
// through the tile loop on machines without AMX).
bool TilesSupported();
// Exact dots of `nq` (1..32) queries with the rows of panels [panel0, panel0 +
// npanels), on AMX tiles: query r is the `q_stride` bytes at q + r * q_stride
// (zero past dim, q_stride >= 4 * t.groups), q_sum[r] the sum of its bytes;
// out[r * out_stride + 16 * (p - panel0) + lane]. The panels must be packed
// with group_align = kTileGroups. Requires TilesSupported().
void DotTilesU8(const U8Panels& t, const std::uint8_t* q, std::size_t q_stride, const std::int32_t* q_sum, int nq,
                std::size_t panel0, std::size_t npanels, std::int32_t* out, std::size_t out_stride);
// The same loop over a software model of the tile registers (TILELOADD,
// TDPBUSD and TILESTORED as Intel's SDM defines them), so that the tile
// path's packing, blocking and tails are checked on machines without AMX.
void DotTilesU8Emulated(const U8Panels& t, const std::uint8_t* q, std::size_t q_stride, const std::int32_t* q_sum,
                        int nq, std::size_t panel0, std::size_t npanels, std::int32_t* out, std::size_t out_stride);
// The path exact L2 on bytes takes on this CPU: "amx", "amx-model", "vnni", "avx512bw", "avx2" or "scalar".
const char* L2U8Isa();

}  // namespace scenelab::classify::kernels
