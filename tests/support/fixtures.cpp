#include "fixtures.h"

#include <cstdio>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <cmath>
#include <fstream>
#include <stdexcept>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "scenelab/data/rng.h"

extern char** environ;
namespace fs = std::filesystem;

namespace scenelab::fixtures {

TempDir::TempDir() {
  std::string tmpl = (fs::temp_directory_path() / "scenelab-test-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}
TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

void WriteBytes(const fs::path& p, const std::vector<unsigned char>& bytes) {
  fs::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}
void WriteText(const fs::path& p, const std::string& text) {
  WriteBytes(p, std::vector<unsigned char>(text.begin(), text.end()));
}

std::vector<unsigned char> IdxBytes(const std::vector<int>& dims, const std::vector<unsigned char>& data) {
  std::vector<unsigned char> b = {0, 0, 0x08, static_cast<unsigned char>(dims.size())};
  for (int d : dims) {
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<unsigned char>((static_cast<unsigned>(d) >> s) & 0xff));
  }
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

std::vector<unsigned char> Gzip(const std::vector<unsigned char>& in) {
  z_stream zs{};
  deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::vector<unsigned char> out(deflateBound(&zs, in.size()) + 64);
  zs.next_in = const_cast<Bytef*>(in.data());
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

void WriteIdxDataset(const fs::path& dir, int n_train, int n_test, bool gz) {
  auto write = [&](const std::string& prefix, int n) {
    std::vector<unsigned char> px, lb;
    for (int i = 0; i < n; ++i) {
      const int c = i % 10;
      cv::Mat img = ClassImage(c, i, 28, 28);
      px.insert(px.end(), img.datastart, img.dataend);
      lb.push_back(static_cast<unsigned char>(c));
    }
    auto ib = IdxBytes({n, 28, 28}, px);
    auto lbb = IdxBytes({n}, lb);
    const std::string sfx = gz ? ".gz" : "";
    WriteBytes(dir / (prefix + "-images-idx3-ubyte" + sfx), gz ? Gzip(ib) : ib);
    WriteBytes(dir / (prefix + "-labels-idx1-ubyte" + sfx), gz ? Gzip(lbb) : lbb);
  };
  write("train", n_train);
  write("t10k", n_test);
}

std::vector<unsigned char> CifarBytes(const std::vector<int>& labels, int label_bytes, std::uint64_t seed) {
  std::vector<unsigned char> b;
  Rng rng(seed);
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (label_bytes == 2) b.push_back(static_cast<unsigned char>(labels[i] / 5));  // coarse
    b.push_back(static_cast<unsigned char>(labels[i]));
    cv::Mat img = ClassImage(labels[i], static_cast<int>(i), 32, 32, 3);  // BGR
    for (int ch : {2, 1, 0}) {                                            // file order: R plane, G plane, B plane
      for (int y = 0; y < 32; ++y) {
        for (int x = 0; x < 32; ++x) b.push_back(img.at<cv::Vec3b>(y, x)[ch]);
      }
    }
  }
  (void)rng;
  return b;
}

void WriteCifar10(const fs::path& dir, int per_batch, int n_test) {
  WriteText(dir / "batches.meta.txt", "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n");
  for (int b = 1; b <= 5; ++b) {
    std::vector<int> labels;
    for (int i = 0; i < per_batch; ++i) labels.push_back((i + b) % 10);
    WriteBytes(dir / ("data_batch_" + std::to_string(b) + ".bin"), CifarBytes(labels, 1, b));
  }
  std::vector<int> labels;
  for (int i = 0; i < n_test; ++i) labels.push_back(i % 10);
  WriteBytes(dir / "test_batch.bin", CifarBytes(labels, 1, 99));
}

cv::Mat ClassImage(int cls, int index, int width, int height, int channels) {
  cv::Mat img(height, width, CV_8UC(channels));
  Rng rng(MixSeed(static_cast<std::uint64_t>(cls) * 7919 + 1, static_cast<std::uint64_t>(index)));
  const double angle = cls * 3.14159265358979 / 7.0;
  const double freq = 0.25 + 0.08 * (cls % 4);
  const double phase = rng.Uniform() * 6.28;
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      const double t = (x * std::cos(angle) + y * std::sin(angle)) * freq + phase;
      const double v = 128 + 90 * std::sin(t) + (rng.Uniform() - 0.5) * 40;
      for (int c = 0; c < channels; ++c) {
        const double vc = v + (channels == 3 ? (c - 1) * 10.0 * ((cls % 3) - 1) : 0.0);
        img.ptr<unsigned char>(y)[x * channels + c] = cv::saturate_cast<unsigned char>(vc);
      }
    }
  }
  return img;
}

void WriteFolderDataset(const fs::path& root, const std::vector<std::string>& classes, int n_train, int n_test,
                        int size, const std::string& ext) {
  for (std::size_t c = 0; c < classes.size(); ++c) {
    for (const auto& [split, n] : {std::pair<std::string, int>{"train", n_train}, {"test", n_test}}) {
      const fs::path dir = root / split / classes[c];
      fs::create_directories(dir);
      for (int i = 0; i < n; ++i) {
        char name[32];
        std::snprintf(name, sizeof name, "img_%03d", i);
        const int idx = split == "train" ? i : 1000 + i;
        cv::imwrite((dir / (std::string(name) + ext)).string(),
                    ClassImage(static_cast<int>(c), idx, size + (i % 3) * 8, size));
      }
    }
  }
}

void WriteTinyImageNet(const fs::path& root, int n_classes, int n_train, int n_val) {
  std::string wnids, words, ann;
  for (int c = 0; c < n_classes; ++c) {
    char id[16];
    std::snprintf(id, sizeof id, "n%08d", 1440000 + c);
    wnids += std::string(id) + (c + 1 < n_classes ? "\n" : "");  // no final newline
    words += std::string(id) + "\tthing " + std::to_string(c) + ", object\n";
    const fs::path dir = root / "train" / id / "images";
    fs::create_directories(dir);
    std::string boxes;
    for (int i = 0; i < n_train; ++i) {
      const std::string f = std::string(id) + "_" + std::to_string(i) + ".JPEG";
      cv::imwrite((dir / f).string(), ClassImage(c, i, 64, 64, 3));
      boxes += f + "\t0\t0\t63\t63\n";
    }
    WriteText(root / "train" / id / (std::string(id) + "_boxes.txt"), boxes);
    WriteText(dir / ".DS_Store", "Bud1\x00\x00junk");
    for (int i = 0; i < n_val; ++i) {
      const std::string f = "val_" + std::to_string(c * n_val + i) + ".JPEG";
      fs::create_directories(root / "val" / "images");
      cv::imwrite((root / "val" / "images" / f).string(), ClassImage(c, 500 + i, 64, 64, 3));
      ann += f + "\t" + id + "\t0\t0\t63\t63\n";
    }
  }
  WriteText(root / "wnids.txt", wnids);
  WriteText(root / "words.txt", words + "n99999999\tunused entry\n");
  WriteText(root / "val" / "val_annotations.txt", ann);
  WriteText(root / "val" / ".DS_Store", "junk");
  fs::create_directories(root / "test" / "images");
}

std::string CaptureCommand(const std::string& cmd) {
  std::string out;
  FILE* f = ::popen(cmd.c_str(), "r");
  if (!f) return out;
  char buf[65536];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  ::pclose(f);
  return out;
}

int SpawnLogged(const std::vector<std::string>& args, const fs::path& log) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) throw std::runtime_error("cannot start " + args[0]);
  return pid;
}

int WaitExit(int pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

bool RequireData() {
  const char* env = std::getenv("SCENELAB_REQUIRE_DATA");
  return env != nullptr && std::string(env) == "1";
}

std::string Scene15Path() {
  const char* env = std::getenv("SCENELAB_SCENE15");
  return env ? env : SCENELAB_SCENE15_DIR;
}

std::string FashionMnistPath() {
  const char* env = std::getenv("SCENELAB_FMNIST");
  return env ? env : SCENELAB_FMNIST_DIR;
}

std::string Scene15Dir() {
  std::string p = Scene15Path();
  std::error_code ec;
  return fs::is_directory(fs::path(p) / "train", ec) ? p : "";
}

std::string FashionMnistDir() {
  std::string p = FashionMnistPath();
  std::error_code ec;
  return fs::exists(fs::path(p) / "train-images-idx3-ubyte.gz", ec) ||
                 fs::exists(fs::path(p) / "train-images-idx3-ubyte", ec)
             ? p
             : "";
}

}  // namespace scenelab::fixtures
