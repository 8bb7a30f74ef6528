// A small libFuzzer-compatible driver for builds without libFuzzer (the release and asan
// presets, g++): it lets `ctest --preset cpu` keep every harness alive in bounded time.
//
//   <harness> [--seconds=S] [--seed=N] [--max-len=BYTES] PATH...
//
// 1. Replays every regular file under each PATH (files or directories, recursively), in name
//    order, through LLVMFuzzerTestOneInput.
// 2. Until S seconds have passed (default 10), picks a replayed input, mutates it and runs the
//    harness on the result. When the harness defines LLVMFuzzerCustomMutator (a structure-aware
//    mutator) it is used for half of the mutations; the rest are byte-level mutations from
//    LLVMFuzzerMutate below (bit flips, interesting integers, inserts, erases, copies, splices).
//
// Every input is passed in a heap buffer of exactly its size, so an over-read is caught by ASan
// in the asan preset. A harness failure is a crash (abort/trap/sanitizer report): this driver
// never catches signals. The seed defaults to a fixed value and is printed, so a failing run is
// reproduced by running it again with the same corpus and --seed.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
extern "C" __attribute__((weak)) size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size,
                                                                unsigned int seed);

namespace {

std::minstd_rand g_rng(0x5eed);

uint64_t pick(uint64_t bound) { return bound == 0 ? 0 : g_rng() % bound; }

std::vector<uint8_t> read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void run_one(const std::vector<uint8_t>& input) {
  // An exact-size heap copy: reading one byte past it is an ASan error.
  auto* buffer = static_cast<uint8_t*>(std::malloc(std::max<size_t>(input.size(), 1)));
  if (!input.empty()) std::memcpy(buffer, input.data(), input.size());
  LLVMFuzzerTestOneInput(buffer, input.size());
  std::free(buffer);
}

}  // namespace

// Byte-level mutations, in place; what libFuzzer's LLVMFuzzerMutate provides in fuzz builds.
extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size) {
  static const uint64_t kInteresting[] = {0,
                                          1,
                                          0x7f,
                                          0x80,
                                          0xff,
                                          0x7fff,
                                          0xffff,
                                          0x7fffffff,
                                          0xffffffff,
                                          0x7fffffffffffffffull,
                                          0xffffffffffffffffull,
                                          32,
                                          64,
                                          4096};
  switch (pick(6)) {
    case 0:  // flip a bit
      if (size > 0) data[pick(size)] ^= static_cast<uint8_t>(1u << pick(8));
      break;
    case 1:  // overwrite 1/2/4/8 bytes with an interesting integer
      if (size > 0) {
        const size_t width = size_t{1} << pick(4);
        const size_t at = pick(size);
        const uint64_t value = kInteresting[pick(std::size(kInteresting))];
        std::memcpy(data + at, &value, std::min(width, size - at));
      }
      break;
    case 2:  // erase a range
      if (size > 1) {
        const size_t at = pick(size);
        const size_t count = 1 + pick(std::min<size_t>(size - at, 16));
        std::memmove(data + at, data + at + count, size - at - count);
        size -= count;
      }
      break;
    case 3:  // insert random bytes
      if (size < max_size) {
        const size_t at = pick(size + 1);
        const size_t count = 1 + pick(std::min<size_t>(max_size - size, 16));
        std::memmove(data + at + count, data + at, size - at);
        for (size_t i = 0; i < count; ++i) data[at + i] = static_cast<uint8_t>(g_rng());
        size += count;
      }
      break;
    case 4:  // copy a range over another
      if (size > 1) {
        const size_t from = pick(size);
        const size_t to = pick(size);
        const size_t count = 1 + pick(std::min(size - from, size - to));
        std::memmove(data + to, data + from, count);
      }
      break;
    default:  // truncate
      if (size > 0) size = pick(size);
      break;
  }
  return size;
}

int main(int argc, char** argv) {
  double seconds = 10;
  size_t max_len = 1 << 20;
  unsigned seed = 0x5eed;
  std::vector<std::filesystem::path> roots;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind("--seconds=", 0) == 0) {
      seconds = std::atof(arg.c_str() + 10);
    } else if (arg.rfind("--seed=", 0) == 0) {
      seed = static_cast<unsigned>(std::strtoul(arg.c_str() + 7, nullptr, 10));
    } else if (arg.rfind("--max-len=", 0) == 0) {
      max_len = std::strtoull(arg.c_str() + 10, nullptr, 10);
    } else {
      roots.emplace_back(arg);
    }
  }
  g_rng.seed(seed);
  std::vector<std::filesystem::path> files;
  for (const auto& root : roots) {
    if (std::filesystem::is_regular_file(root)) {
      files.push_back(root);
    } else if (std::filesystem::is_directory(root)) {
      for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
        if (entry.is_regular_file()) files.push_back(entry.path());
      }
    } else {
      std::fprintf(stderr, "error: %s: no such file or directory\n", root.c_str());
      return 1;
    }
  }
  std::sort(files.begin(), files.end());
  std::vector<std::vector<uint8_t>> corpus;
  for (const auto& path : files) {
    corpus.push_back(read_file(path));
    run_one(corpus.back());
    if (corpus.back().size() > max_len) corpus.pop_back();  // replayed, but too big to mutate quickly
  }
  if (corpus.empty()) corpus.emplace_back();
  const size_t replayed = corpus.size();
  const size_t kMaxCorpus = replayed + 4096;
  std::printf("replayed %zu inputs; mutating for %.1f s with --seed=%u\n", files.size(), seconds, seed);
  std::fflush(stdout);

  const auto start = std::chrono::steady_clock::now();
  uint64_t runs = 0;
  std::vector<uint8_t> buffer;
  while (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < seconds) {
    for (int batch = 0; batch < 64; ++batch) {
      const auto& base = corpus[pick(corpus.size())];
      const size_t capacity = std::max(base.size() * 2 + 64, size_t{256});
      buffer.assign(capacity, 0);
      std::copy(base.begin(), base.end(), buffer.begin());
      size_t size = base.size();
      const uint64_t rounds = 1 + pick(4);
      for (uint64_t r = 0; r < rounds; ++r) {
        if (LLVMFuzzerCustomMutator != nullptr && pick(2) == 0) {
          size = LLVMFuzzerCustomMutator(buffer.data(), size, capacity, static_cast<unsigned>(g_rng()));
        } else {
          size = LLVMFuzzerMutate(buffer.data(), size, capacity);
        }
      }
      buffer.resize(size);
      run_one(buffer);
      ++runs;
      if (pick(64) == 0 && buffer.size() <= max_len) {  // keep some mutants, in bounded memory
        if (corpus.size() < kMaxCorpus) {
          corpus.push_back(buffer);
        } else {
          corpus[replayed + pick(kMaxCorpus - replayed)] = buffer;
        }
      }
    }
  }
  std::printf("ran %llu mutated inputs in %.1f s\n", static_cast<unsigned long long>(runs), seconds);
  return 0;
}
