#pragma once
// AMX int8 tile products for the byte kernels of features/ (word
// assignment) and classify/ (exact L2), and a software model of the tiles
// that runs the same loop on any machine.
//
// The instructions are inline assembly rather than GCC's _tile_* macros,
// whose tile numbers must be literal tokens: so one loop template runs on
// AmxTiles and on ModelTiles, and the model tests the loop (shapes, strides,
// tails) where the CPU has no tiles. Use AmxTiles only where
// ActiveIsa() >= Isa::kAmx (scenelab/data/cpu.h), which includes Linux's
// per-process grant of the tile state.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace scenelab::tiles {

// Palette 1's 64-byte tile configuration (Intel SDM, LDTILECFG).
struct alignas(64) TileConfig {
  std::uint8_t palette = 1;
  std::uint8_t start_row = 0;
  std::uint8_t reserved[14] = {};
  std::uint16_t colsb[16] = {};  // bytes per row of tile i
  std::uint8_t rows[16] = {};
};
static_assert(sizeof(TileConfig) == 64, "LDTILECFG reads 64 bytes");

// The roles of the eight tiles in Products below: C0..C3 accumulate a 2 x 2
// block of 16 rows x 16 columns of int32; A4, A5 hold 16 rows x 64 bytes of
// the left operand; B6, B7 16 rows x 16 dwords of the right one (64 bytes of
// 16 columns, 4 consecutive bytes of each). Every tile is 16 rows of 64 bytes.
inline TileConfig ProductConfig() {
  TileConfig c;
  for (int i = 0; i < 8; ++i) {
    c.rows[i] = 16;
    c.colsb[i] = 64;
  }
  return c;
}

// SCENELAB_TILE_MODEL=1: the tile paths run on ModelTiles (slow; for tests
// of the whole pipelines through the tile loop on machines without AMX).
bool ModelRequested();

#if defined(__x86_64__) && defined(__GNUC__)
// The AMX instructions (AT&T order: `tdpbusd B, A, C` is C += A(u8) . B(s8)).
// Loads and stores clobber memory: staging buffers are read right after a store.
struct AmxTiles {
  static void Config(const TileConfig* c) { asm volatile("ldtilecfg (%0)" ::"r"(c) : "memory"); }
  template <int T>
  static void Zero() {
    static_assert(T >= 0 && T < 4, "C tiles are 0..3");
    if constexpr (T == 0) asm volatile("tilezero %%tmm0" ::);
    if constexpr (T == 1) asm volatile("tilezero %%tmm1" ::);
    if constexpr (T == 2) asm volatile("tilezero %%tmm2" ::);
    if constexpr (T == 3) asm volatile("tilezero %%tmm3" ::);
  }
  template <int T>
  static void Load(const void* base, std::size_t stride) {
    static_assert(T >= 4 && T < 8, "A and B tiles are 4..7");
    const auto s = static_cast<long>(stride);
    if constexpr (T == 4) asm volatile("tileloadd (%0,%1,1), %%tmm4" ::"r"(base), "r"(s) : "memory");
    if constexpr (T == 5) asm volatile("tileloadd (%0,%1,1), %%tmm5" ::"r"(base), "r"(s) : "memory");
    if constexpr (T == 6) asm volatile("tileloadd (%0,%1,1), %%tmm6" ::"r"(base), "r"(s) : "memory");
    if constexpr (T == 7) asm volatile("tileloadd (%0,%1,1), %%tmm7" ::"r"(base), "r"(s) : "memory");
  }
  template <int T>
  static void Store(void* base, std::size_t stride) {
    static_assert(T >= 0 && T < 4, "C tiles are 0..3");
    const auto s = static_cast<long>(stride);
    if constexpr (T == 0) asm volatile("tilestored %%tmm0, (%0,%1,1)" ::"r"(base), "r"(s) : "memory");
    if constexpr (T == 1) asm volatile("tilestored %%tmm1, (%0,%1,1)" ::"r"(base), "r"(s) : "memory");
    if constexpr (T == 2) asm volatile("tilestored %%tmm2, (%0,%1,1)" ::"r"(base), "r"(s) : "memory");
    if constexpr (T == 3) asm volatile("tilestored %%tmm3, (%0,%1,1)" ::"r"(base), "r"(s) : "memory");
  }
  template <int C, int A, int B>
  static void Dpbusd() {
    if constexpr (C == 0 && A == 4 && B == 6) {
      asm volatile("tdpbusd %%tmm6, %%tmm4, %%tmm0" ::);
    } else if constexpr (C == 1 && A == 4 && B == 7) {
      asm volatile("tdpbusd %%tmm7, %%tmm4, %%tmm1" ::);
    } else if constexpr (C == 2 && A == 5 && B == 6) {
      asm volatile("tdpbusd %%tmm6, %%tmm5, %%tmm2" ::);
    } else {
      static_assert(C == 3 && A == 5 && B == 7, "the four (C, A, B) triples of the 2 x 2 block");
      asm volatile("tdpbusd %%tmm7, %%tmm5, %%tmm3" ::);
    }
  }
  // Back to the init state, so the OS need not save 8 KB of tiles per switch.
  static void Release() { asm volatile("tilerelease" ::); }
};
#endif

// The tile registers in software, per Intel's SDM: TILELOADD fills `rows`
// rows of `colsb` bytes and zeroes the rest of each row; TDPBUSD adds, to
// dword n of C's row m, the four u8 x s8 products of A's row m dword k and
// B's row k dword n, for k < A.colsb / 4. The shapes are checked as the
// hardware checks them (it faults where this throws).
class ModelTiles {
 public:
  void Config(const TileConfig* c) {
    if (c->palette != 1) throw std::logic_error("tile model: palette " + std::to_string(c->palette));
    for (int i = 0; i < 8; ++i) {
      if (c->rows[i] > 16 || c->colsb[i] > 64) throw std::logic_error("tile model: tile " + std::to_string(i));
      tiles_[static_cast<std::size_t>(i)] = Tile{c->rows[i], c->colsb[i], {}};
    }
  }
  template <int T>
  void Zero() {
    tiles_[T].bytes.fill(0);
  }
  template <int T>
  void Load(const void* base, std::size_t stride) {
    Tile& t = tiles_[T];
    t.bytes.fill(0);
    for (int r = 0; r < t.rows; ++r)
      std::memcpy(t.bytes.data() + r * 64, static_cast<const std::uint8_t*>(base) + r * stride, t.colsb);
  }
  template <int T>
  void Store(void* base, std::size_t stride) const {
    const Tile& t = tiles_[T];
    for (int r = 0; r < t.rows; ++r)
      std::memcpy(static_cast<std::uint8_t*>(base) + r * stride, t.bytes.data() + r * 64, t.colsb);
  }
  template <int C, int A, int B>
  void Dpbusd() {
    Tile &c = tiles_[C], &a = tiles_[A], &b = tiles_[B];
    if (a.rows != c.rows || b.colsb != c.colsb || a.colsb / 4 != b.rows)
      throw std::logic_error("tile model: tdpbusd shapes do not match");
    for (int m = 0; m < c.rows; ++m) {
      for (int n = 0; n < c.colsb / 4; ++n) {
        std::int32_t acc;
        std::memcpy(&acc, c.bytes.data() + m * 64 + n * 4, 4);
        for (int k = 0; k < a.colsb / 4; ++k) {
          const std::uint8_t* ak = a.bytes.data() + m * 64 + k * 4;  // u8: A's row m, dword k
          const std::uint8_t* bk = b.bytes.data() + k * 64 + n * 4;  // s8: B's row k, dword n
          for (int i = 0; i < 4; ++i) acc += static_cast<std::int32_t>(ak[i]) * static_cast<std::int8_t>(bk[i]);
        }
        std::memcpy(c.bytes.data() + m * 64 + n * 4, &acc, 4);
      }
    }
  }
  static void Release() {}

 private:
  struct Tile {
    int rows = 0, colsb = 0;
    std::array<std::uint8_t, 16 * 64> bytes{};
  };
  std::array<Tile, 8> tiles_{};
};

// Staged C tiles of one step: [2 * row_half + panel_side][16 rows x 16 int32].
using Staged = std::int32_t[4][16 * 16];

// Integer products of 16 or 32 rows of unsigned bytes (`a`: rows of
// `a_stride` bytes, all 16 or 32 readable, `chunks` x 64 bytes used) with
// `npanels` panels of 16 columns of signed bytes (`b`: panel p at
// b + p * panel_bytes, its 64-byte column chunk ch the 1,024 bytes at
// + ch * 1024: 16 groups of 4 bytes of each of the 16 columns). Two panels
// per step (one at an odd end): per chunk two A loads, two B loads and four
// tdpbusd of 16 x 16 x 64. After each step, epilogue(p, two_panels, staged)
// reads the C tiles: staged[2 * h + s][16 * r + c] is row 16 h + r with
// column c of panel p + s.
template <class Tiles, class Epilogue>
void Products(Tiles& tl, const std::uint8_t* a, std::size_t a_stride, bool two_rows, const std::int8_t* b,
              std::size_t panel_bytes, std::size_t npanels, std::size_t chunks, Epilogue&& epilogue) {
  const TileConfig cfg = ProductConfig();
  tl.Config(&cfg);
  alignas(64) Staged staged;
  for (std::size_t p = 0; p < npanels; p += 2) {
    const bool two_p = p + 1 < npanels;
    tl.template Zero<0>();
    tl.template Zero<1>();
    tl.template Zero<2>();
    tl.template Zero<3>();
    const std::int8_t* b0 = b + p * panel_bytes;
    for (std::size_t ch = 0; ch < chunks; ++ch) {
      tl.template Load<4>(a + ch * 64, a_stride);
      tl.template Load<6>(b0 + ch * 1024, 64);
      tl.template Dpbusd<0, 4, 6>();
      if (two_p) {
        tl.template Load<7>(b0 + panel_bytes + ch * 1024, 64);
        tl.template Dpbusd<1, 4, 7>();
      }
      if (two_rows) {
        tl.template Load<5>(a + 16 * a_stride + ch * 64, a_stride);
        tl.template Dpbusd<2, 5, 6>();
        if (two_p) tl.template Dpbusd<3, 5, 7>();
      }
    }
    tl.template Store<0>(staged[0], 64);
    if (two_p) tl.template Store<1>(staged[1], 64);
    if (two_rows) {
      tl.template Store<2>(staged[2], 64);
      if (two_p) tl.template Store<3>(staged[3], 64);
    }
    epilogue(p, two_p, static_cast<const Staged&>(staged));
  }
  tl.Release();
}

// Whether `tl` runs Products exactly: plain integer arithmetic on a fixed
// block that takes every branch of the loop (32 rows, then 16; three
// panels, so a pair and an odd end; two chunks; rows wider than the chunks
// they use, so the stride counts), with the extremes 0 and 255 against -128
// and 127. cpu.cpp runs it once on the hardware tiles before it trusts them:
// no session has had an AMX CPU to test them on, and a wrong tile program
// must fall back to VNNI rather than give wrong distances.
template <class Tiles>
bool ProductsAgree(Tiles& tl) {
  constexpr std::size_t kRows = 32, kChunks = 2, kPanels = 3, kDepth = kChunks * 64, kStride = kDepth + 64;
  constexpr std::size_t kPanelBytes = kChunks * 1024;
  std::vector<std::uint8_t> a(kRows * kStride);
  std::vector<std::int8_t> b(kPanels * kPanelBytes);
  std::uint32_t state = 20261202u;  // a fixed LCG: the same block on every machine
  auto next = [&state] {
    state = state * 1664525u + 1013904223u;
    return static_cast<std::uint8_t>(state >> 24);
  };
  for (auto& v : a) v = next();
  for (auto& v : b) v = static_cast<std::int8_t>(next());
  // Byte k of column c of a panel (the layout Products documents).
  auto at = [](std::size_t k, std::size_t c) { return k / 64 * 1024 + k % 64 / 4 * 64 + c * 4 + k % 4; };
  for (std::size_t k = 0; k < kDepth; ++k) {
    a[k] = 255;            // row 0
    a[kStride + k] = 255;  // row 1
    a[31 * kStride + k] = 0;
    b[at(k, 0)] = -128;                     // panel 0, column 0
    b[at(k, 1)] = 127;                      // panel 0, column 1
    b[2 * kPanelBytes + at(k, 15)] = -128;  // the odd panel's last column
  }
  bool ok = true;
  for (const bool two_rows : {true, false}) {
    const std::size_t rows = two_rows ? kRows : 16;
    std::size_t columns = 0;
    Products(tl, a.data(), kStride, two_rows, b.data(), kPanelBytes, kPanels, kChunks,
             [&](std::size_t p, bool two_p, const Staged& staged) {
               for (std::size_t side = 0; side < (two_p ? 2u : 1u); ++side) {
                 const std::int8_t* panel = b.data() + (p + side) * kPanelBytes;
                 for (std::size_t c = 0; c < 16; ++c, ++columns) {
                   for (std::size_t r = 0; r < rows; ++r) {
                     std::int32_t want = 0;
                     for (std::size_t k = 0; k < kDepth; ++k) want += a[r * kStride + k] * panel[at(k, c)];
                     if (staged[2 * (r / 16) + side][(r % 16) * 16 + c] != want) ok = false;
                   }
                 }
               }
             });
    ok = ok && columns == kPanels * 16;
  }
  return ok;
}

}  // namespace scenelab::tiles
