#pragma once
// Asserting on the message of a scenelab::Error: the tests check that bad
// input names the file, the field and the value, not only that it throws.
#include <string>

#include "scenelab/data/error.h"

namespace scenelab::fixtures {

// The message of the Error `fn` throws, or "(no error)".
template <typename Fn>
std::string ErrorOf(Fn&& fn) {
  try {
    fn();
  } catch (const scenelab::Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace scenelab::fixtures

// Expects `call` to throw an Error whose message contains `text`.
#define EXPECT_MESSAGE(call, text)                                                      \
  EXPECT_NE(::scenelab::fixtures::ErrorOf([&] { call; }).find(text), std::string::npos) \
      << ::scenelab::fixtures::ErrorOf([&] { call; })
