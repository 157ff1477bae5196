#pragma once
// `scenelab cnn train --nproc N`: starts N local worker processes of this
// binary, one per rank, joined by a c10d TCPStore on a free loopback port.
#include <string>
#include <vector>

namespace scenelab::app {

// argv: this process's arguments (argv[0] included), with --nproc among
// them. Rank 0 writes to this terminal, rank r > 0 to OUT/worker-r.log.
// Worker pids go to OUT/workers.pid. When a worker fails, the others are
// given `grace_s` to notice (their collectives time out or see the peer
// gone) and are then killed; returns non-zero with a message naming it.
int LaunchLocalWorkers(const std::vector<std::string>& argv, int nproc, const std::string& out, int threads,
                       double grace_s);

}  // namespace scenelab::app
