// Writes the malformed corpus: OUT_DIR/NAME.gguf for every case of malformed_cases(), and
// OUT_DIR/expected.tsv ("NAME.gguf<TAB>expected message substring", one line per file).
//   make_gguf_malformed_corpus engine/gguf/tests/malformed
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "malformed_cases.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_gguf_malformed_corpus OUT_DIR\n");
    return 2;
  }
  const std::filesystem::path out = argv[1];
  std::filesystem::create_directories(out);
  std::ofstream expected(out / "expected.tsv");
  for (const auto& entry : llama_worker::gguf::testing::malformed_cases()) {
    std::ofstream file(out / (entry.name + ".gguf"), std::ios::binary);
    file.write(reinterpret_cast<const char*>(entry.bytes.data()),
               static_cast<std::streamsize>(entry.bytes.size()));
    expected << entry.name << ".gguf\t" << entry.expected << "\n";
  }
  return 0;
}
