#pragma once
// Run log and progress line. A Logger writes timestamped lines to a log file
// (and optionally stderr); a Progress shows "label i/n rate ETA" on a
// terminal and logs a summary line when done.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>

namespace scenelab {

class Logger {
 public:
  Logger() = default;  // a logger that only echoes to stderr when verbose
  explicit Logger(const std::filesystem::path& file, bool echo = true);
  void Info(const std::string& line);
  void set_echo(bool echo) { echo_ = echo; }
  bool echo() const { return echo_; }

 private:
  std::mutex mu_;
  std::ofstream out_;
  bool echo_ = true;
};

class Progress {
 public:
  // `show`: draw on a terminal (off for all but one process of a group).
  Progress(std::string label, std::size_t total, Logger* log = nullptr, bool show = true);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  void Add(std::size_t n = 1);  // thread-safe
  // A short status drawn after the counts (e.g. a solver's pass and gap),
  // and kept in the final line. Thread-safe.
  void SetDetail(std::string detail);
  std::string detail() const;
  void Finish();
  double Seconds() const;

 private:
  void Draw(bool final_line);
  std::string label_;
  std::size_t total_;
  Logger* log_;
  std::atomic<std::size_t> done_{0};
  std::chrono::steady_clock::time_point start_;
  std::atomic<long long> last_draw_ms_{-1000};
  std::mutex draw_mu_;
  mutable std::mutex detail_mu_;
  std::string detail_;
  bool tty_ = false;
  bool finished_ = false;
};

// Seconds since `start`, for stage timings.
inline double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace scenelab
