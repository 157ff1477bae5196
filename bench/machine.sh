#!/usr/bin/env bash
# One line naming the machine a benchmark ran on, as docs/BENCHMARKS.md
# records it: cores, the CPU's model name, its family, model and stepping
# (the name alone, "AMD EPYC" on these VMs, does not tell one generation from
# the next), and the flags the kernels dispatch on. Every bench/ script
# prints it first.
#   bench/machine.sh
set -euo pipefail
field() { grep -m1 "^$1[[:space:]]*:" /proc/cpuinfo | cut -d: -f2 | xargs; }
flags=$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' |
  grep -x -E 'avx2|avx512f|avx512bw|avx512_vnni|avx512_bf16|amx_tile|amx_int8|amx_bf16' | xargs || true)
echo "machine: $(nproc) cores, $(field 'model name') (family $(field 'cpu family'), model $(field model)," \
  "stepping $(field stepping)); flags: ${flags:-none of avx2, avx512, vnni, bf16, amx}"
