#!/usr/bin/env bash
# Installs every Debian 12 package scenelab needs, then configures and builds
# it in Release under ./build. Idempotent: packages already present are not
# reinstalled, and the build is incremental.
#   scripts/setup.sh            install + build
#   SCENELAB_NO_APT=1 ...       skip the package step (no root)
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libopencv-dev libvlfeat-dev libeigen3-dev libflann-dev liblz4-dev libopenblas-dev
  libtorch-dev libgloo-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libcli11-dev nlohmann-json3-dev libfmt-dev libyaml-cpp-dev zlib1g-dev libcairo2-dev
  clang libclang-rt-14-dev chromium cmark-gfm
  libopenmpi-dev openmpi-bin clang-format clang-tidy liblinear-dev
  dataset-fashion-mnist
)

say() { printf '[setup] %s\n' "$*"; }

if [ "${SCENELAB_NO_APT:-0}" != 1 ]; then
  missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    say "installing ${#missing[@]} Debian packages: ${missing[*]}"
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
  else
    say "all ${#PACKAGES[@]} Debian packages already installed"
  fi
fi

JOBS=${JOBS:-$(nproc)}
say "configuring (Release) in build/"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release ${SCENELAB_CMAKE_ARGS:-} >/dev/null
say "building with $JOBS jobs"
cmake --build build -j "$JOBS"
say "done: build/apps/scenelab"
