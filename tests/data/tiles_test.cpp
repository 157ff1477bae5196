// The start-up check of the AMX tiles (tiles::ProductsAgree): it passes on a
// correct tile program and fails on each kind of wrong one, so that a fault
// of the hardware path, which no session could run, falls back to VNNI.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "scenelab/data/cpu.h"
#include "scenelab/data/tiles.h"

using namespace scenelab;

namespace {

enum class Fault { kNone, kStrideIgnored, kSecondRowHalfDropped, kPanelsCrossed, kAccumulatorNotZeroed, kLastByteLost };

// The tile model with one fault of the kind a wrong tile program has.
template <Fault F>
class FaultyTiles {
 public:
  void Config(const tiles::TileConfig* c) { model_.Config(c); }
  template <int T>
  void Zero() {
    if (F == Fault::kAccumulatorNotZeroed && T == 0) return;
    model_.template Zero<T>();
  }
  template <int T>
  void Load(const void* base, std::size_t stride) {
    if (F == Fault::kLastByteLost && T >= 6) {  // B tiles: the last byte of each load reads as 0
      std::uint8_t copy[16 * 64];
      for (int r = 0; r < 16; ++r) std::memcpy(copy + r * 64, static_cast<const std::uint8_t*>(base) + r * stride, 64);
      copy[16 * 64 - 1] = 0;
      model_.template Load<T>(copy, 64);
      return;
    }
    model_.template Load<T>(base, F == Fault::kStrideIgnored && T < 6 ? 64 : stride);
  }
  template <int T>
  void Store(void* base, std::size_t stride) const {
    model_.template Store<T>(base, stride);
  }
  template <int C, int A, int B>
  void Dpbusd() {
    if constexpr (F == Fault::kSecondRowHalfDropped && A == 5) return;
    if constexpr (F == Fault::kPanelsCrossed && C == 1) {
      model_.template Dpbusd<1, 4, 6>();  // the second panel's products from the first panel's tile
      return;
    }
    model_.template Dpbusd<C, A, B>();
  }
  static void Release() {}

 private:
  tiles::ModelTiles model_;
};

}  // namespace

TEST(Data_Tiles, TheCheckPassesOnTheTileModel) {
  tiles::ModelTiles model;
  EXPECT_TRUE(tiles::ProductsAgree(model));
  FaultyTiles<Fault::kNone> same;  // the wrapper itself changes nothing
  EXPECT_TRUE(tiles::ProductsAgree(same));
}

TEST(Data_Tiles, TheCheckFailsOnEachKindOfWrongTileProgram) {
  FaultyTiles<Fault::kStrideIgnored> stride;
  EXPECT_FALSE(tiles::ProductsAgree(stride)) << "A rows read at 64 bytes instead of their stride";
  FaultyTiles<Fault::kSecondRowHalfDropped> half;
  EXPECT_FALSE(tiles::ProductsAgree(half)) << "rows 16..31 never multiplied";
  FaultyTiles<Fault::kPanelsCrossed> crossed;
  EXPECT_FALSE(tiles::ProductsAgree(crossed)) << "the second panel multiplied with the first panel's tile";
  FaultyTiles<Fault::kAccumulatorNotZeroed> stale;
  EXPECT_FALSE(tiles::ProductsAgree(stale)) << "C0 carried over from the previous step";
  FaultyTiles<Fault::kLastByteLost> lost;
  EXPECT_FALSE(tiles::ProductsAgree(lost)) << "one byte of 1,024 of each B load lost";
}

// Where the CPU has the tiles: the hardware passes, and the dispatch uses it.
TEST(Data_Tiles, TheHardwareTilesPassTheCheckWhereTheCpuHasThem) {
  if (!CpuFlag("amx_int8") || !CpuFlag("amx_tile") || !CpuFlag("avx512_vnni")) {
    GTEST_SKIP() << "this CPU has no amx_int8 (its best level is " << ToString(CpuIsa()) << ")";
  }
  if (const std::string refused = RequestTileState(); !refused.empty()) {
    GTEST_SKIP() << "Linux refused this process the tile state (" << refused << ")";
  }
#if defined(__x86_64__) && defined(__GNUC__)
  tiles::AmxTiles tl;
  EXPECT_TRUE(tiles::ProductsAgree(tl)) << "the AMX tiles' products differ from plain integer arithmetic";
  EXPECT_EQ(CpuIsa(), Isa::kAmx);
#endif
}
