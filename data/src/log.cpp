#include "scenelab/data/log.h"

#include <unistd.h>
#include <filesystem>

#include <cmath>
#include <ctime>
#include <iostream>
#include <sstream>

namespace scenelab {

namespace {
std::string Timestamp() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

std::string FormatDuration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  const long long t = std::llround(s);
  char buf[32];
  if (t >= 3600) {
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", t / 3600, (t / 60) % 60);
  } else if (t >= 60) {
    std::snprintf(buf, sizeof buf, "%lldm%02llds", t / 60, t % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%llds", t);
  }
  return buf;
}
}  // namespace

Logger::Logger(const std::filesystem::path& file, bool echo) : echo_(echo) {
  std::error_code ec;
  if (file.has_parent_path()) std::filesystem::create_directories(file.parent_path(), ec);
  out_.open(file, std::ios::app);
}

void Logger::Info(const std::string& line) {
  std::lock_guard<std::mutex> lock(mu_);
  if (out_.is_open()) {
    out_ << Timestamp() << "  " << line << '\n';
    out_.flush();
  }
  if (echo_) std::cerr << line << '\n';
}

Progress::Progress(std::string label, std::size_t total, Logger* log, bool show)
    : label_(std::move(label)), total_(total), log_(log), start_(std::chrono::steady_clock::now()) {
  // A silent log (another rank's, a worker's) draws no progress line either.
  tty_ = show && (!log || log->echo()) && ::isatty(STDERR_FILENO) != 0;
}

Progress::~Progress() { Finish(); }

double Progress::Seconds() const { return SecondsSince(start_); }

void Progress::Add(std::size_t n) {
  done_.fetch_add(n);
  if (!tty_) return;
  const long long now_ms = static_cast<long long>(Seconds() * 1000);
  long long last = last_draw_ms_.load();
  // Redraw at most 5 times a second.
  if (now_ms - last >= 200 && last_draw_ms_.compare_exchange_strong(last, now_ms)) Draw(false);
}

void Progress::SetDetail(std::string detail) {
  std::lock_guard<std::mutex> lock(detail_mu_);
  detail_ = std::move(detail);
}

std::string Progress::detail() const {
  std::lock_guard<std::mutex> lock(detail_mu_);
  return detail_;
}

void Progress::Draw(bool final_line) {
  std::lock_guard<std::mutex> lock(draw_mu_);
  const double s = Seconds();
  const std::size_t done = done_.load();
  const double rate = s > 0 ? done / s : 0.0;
  const double eta = rate > 0 && total_ >= done ? (total_ - done) / rate : NAN;
  std::ostringstream line;
  line << label_ << ' ' << done << '/' << total_;
  char buf[64];
  std::snprintf(buf, sizeof buf, "  %.1f/s", rate);
  line << buf;
  if (final_line) {
    line << "  done in " << FormatDuration(s);
  } else {
    line << "  ETA " << FormatDuration(eta);
  }
  const std::string d = detail();
  if (!d.empty()) line << "  (" << d << ')';
  if (tty_) std::cerr << '\r' << line.str() << "\033[K" << (final_line ? "\n" : "") << std::flush;
  if (final_line && log_) {
    const bool echo = log_->echo();
    if (tty_) log_->set_echo(false);  // already on the terminal
    log_->Info(line.str());
    log_->set_echo(echo);
  }
}

void Progress::Finish() {
  if (finished_) return;
  finished_ = true;
  Draw(true);
}

}  // namespace scenelab
