#include "launcher.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <thread>

#include <fmt/format.h>

#include "scenelab/data/error.h"
#include "scenelab/data/io.h"

extern char** environ;

namespace scenelab::app {

namespace {
// A loopback port the kernel reports free (the TCPStore binds it next).
int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw Error("--nproc: cannot open a socket to find a free port");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof(a);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(fd);
    throw Error("--nproc: cannot find a free loopback port");
  }
  const int port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

std::string Describe(int status) {
  if (WIFEXITED(status)) return fmt::format("exited with code {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return fmt::format("was killed by signal {}", WTERMSIG(status));
  return "stopped";
}
}  // namespace

int LaunchLocalWorkers(const std::vector<std::string>& argv, int nproc, const std::string& out, int threads,
                       double grace_s) {
  if (nproc < 1) throw Error("--nproc must be >= 1, got " + std::to_string(nproc));
  std::vector<std::string> base;
  for (std::size_t i = 0; i < argv.size(); ++i) {
    if (argv[i] == "--nproc" || argv[i] == "--threads") {
      ++i;  // and its value
      continue;
    }
    if (argv[i].rfind("--nproc=", 0) == 0 || argv[i].rfind("--threads=", 0) == 0) continue;
    base.push_back(argv[i]);
  }
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  const int per_worker = threads > 0 ? threads : std::max(1, static_cast<int>(cores) / nproc);
  const std::string rendezvous = fmt::format("127.0.0.1:{}", FreePort());
  std::filesystem::create_directories(out);
  std::vector<pid_t> pids;
  std::string pid_text;
  for (int r = 0; r < nproc; ++r) {
    std::vector<std::string> args = base;
    for (const std::string& a :
         {std::string("--world-size"), std::to_string(nproc), std::string("--rank"), std::to_string(r),
          std::string("--rendezvous"), rendezvous, std::string("--threads"), std::to_string(per_worker)}) {
      args.push_back(a);
    }
    std::vector<char*> cargv;
    cargv.reserve(args.size() + 1);
    for (auto& a : args) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (r > 0) {
      const std::string log = (std::filesystem::path(out) / fmt::format("worker-{}.log", r)).string();
      posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
    }
    pid_t pid = 0;
    const int rc = posix_spawn(&pid, "/proc/self/exe", &fa, nullptr, cargv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
      for (pid_t p : pids) ::kill(p, SIGKILL);
      throw Error(fmt::format("--nproc: cannot start worker {}: {}", r, std::strerror(rc)));
    }
    pids.push_back(pid);
    pid_text += std::to_string(pid) + "\n";
  }
  WriteFileAtomic(std::filesystem::path(out) / "workers.pid", pid_text);
  std::cerr << fmt::format("scenelab: {} workers x {} threads, rendezvous {}; ranks > 0 log to {}/worker-<r>.log\n",
                           nproc, per_worker, rendezvous, out);

  // Wait; after the first failure give the others grace_s, then kill them.
  std::vector<int> status(static_cast<std::size_t>(nproc), -1);
  int left = nproc, failed_rank = -1;
  auto deadline = std::chrono::steady_clock::time_point::max();
  while (left > 0) {
    int st = 0;
    const pid_t p = ::waitpid(-1, &st, WNOHANG);
    if (p > 0) {
      for (int r = 0; r < nproc; ++r) {
        if (pids[static_cast<std::size_t>(r)] != p) continue;
        status[static_cast<std::size_t>(r)] = st;
        --left;
        const bool ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
        if (!ok && failed_rank < 0) {
          failed_rank = r;
          deadline =
              std::chrono::steady_clock::now() + std::chrono::milliseconds(static_cast<std::int64_t>(grace_s * 1000));
        }
      }
      continue;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      for (int r = 0; r < nproc; ++r) {
        if (status[static_cast<std::size_t>(r)] == -1) ::kill(pids[static_cast<std::size_t>(r)], SIGKILL);
      }
      deadline = std::chrono::steady_clock::time_point::max();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (failed_rank >= 0) {
    std::cerr << fmt::format("scenelab: error: worker {} {}; the run stopped (resume with --resume {} --nproc {})\n",
                             failed_rank, Describe(status[static_cast<std::size_t>(failed_rank)]), out, nproc);
    return 1;
  }
  return 0;
}

}  // namespace scenelab::app
