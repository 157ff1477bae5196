#include "scenelab/features/collective.h"

#include <limits>
#include <set>

namespace scenelab::features {

std::size_t NextTask(const std::vector<std::size_t>& group, const std::vector<bool>& started, std::size_t last) {
  constexpr std::size_t kNone = std::numeric_limits<std::size_t>::max();
  std::set<std::size_t> touched;
  for (std::size_t t = 0; t < group.size(); ++t) {
    if (started[t]) touched.insert(group[t]);
  }
  std::size_t untouched = kNone, any = kNone;
  for (std::size_t t = 0; t < group.size(); ++t) {
    if (started[t]) continue;
    if (last != kNone && group[t] == last) return t;  // same descriptor set: its caches are warm here
    if (untouched == kNone && !touched.count(group[t])) untouched = t;
    if (any == kNone) any = t;
  }
  return untouched != kNone ? untouched : any;
}

void SingleProcess::HandOut(const std::vector<std::size_t>& group, const std::function<std::string(std::size_t)>& work,
                            const TaskDone& done) const {
  for (std::size_t t = 0; t < group.size(); ++t) done(t, 0, work(t));
}

}  // namespace scenelab::features
