#pragma once
// glibc gives every allocation above its mmap threshold its own mapping and
// unmaps it on free; left to adapt, that threshold stops at 32 MB. In fp32,
// ResNet-18's first-stage activations at batch 128 are 33.5 MB each, so every
// training step mapped, faulted in page by page and unmapped about a gigabyte:
// a fifth of the step's time (docs/BENCHMARKS.md, "CNN training and the
// heap"). While a TrainingHeap is alive, large blocks come from the heap and
// freed memory stays there for the next step. On destruction the thresholds
// become those glibc's adaptive threshold settles on after freeing blocks
// this large (mmap above 32 MB, trim above 64 MB) and the heap is trimmed.
// One per process at a time: Train and EvaluateCheckpoint each hold one.
namespace scenelab::cnn::detail {

class TrainingHeap {
 public:
  TrainingHeap();
  ~TrainingHeap();
  TrainingHeap(const TrainingHeap&) = delete;
  TrainingHeap& operator=(const TrainingHeap&) = delete;
};

}  // namespace scenelab::cnn::detail
