// capi_make_test_model <vocabulary.gguf> <out-directory>: writes the C API tests' models
// (test_model.hpp) for the C test program, as a CTest fixture:
//   model.gguf                the tiny phi3 model with the Phi-3 vocabulary, context 256
//   unsupported_arch.gguf     the same with general.architecture "gpt9"
//   no_tokenizer.gguf         the same without tokenizer.* metadata
//   nan_weights.gguf          output_norm.weight all NaN: every logit is NaN
//   not_gguf.gguf             64 bytes of text
// Exit 77 (skip) when the vocabulary file is missing, 1 on any other failure.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "capi/tests/test_model.hpp"

namespace {

int write(const std::string& vocabulary, const std::string& path,
          const llama_worker::capi::testing::TestModelOptions& options) {
  const llama_worker::Status written =
      llama_worker::capi::testing::write_test_model(vocabulary, path, options);
  if (!written) {
    std::fprintf(stderr, "error: %s: %s\n", path.c_str(), written.message().c_str());
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  using llama_worker::capi::testing::TestModelOptions;
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s VOCABULARY.gguf OUT-DIRECTORY\n", argv[0]);
    return 2;
  }
  const std::string vocabulary = argv[1];
  const std::string directory = argv[2];
  if (!std::filesystem::exists(vocabulary)) {
    std::printf("SKIPPED: vocabulary file '%s' is missing\n", vocabulary.c_str());
    return 77;
  }
  std::filesystem::create_directories(directory);
  int failures = write(vocabulary, directory + "/model.gguf", {});
  TestModelOptions unsupported;
  unsupported.architecture = "gpt9";
  failures += write(vocabulary, directory + "/unsupported_arch.gguf", unsupported);
  TestModelOptions no_tokenizer;
  no_tokenizer.with_tokenizer = false;
  failures += write(vocabulary, directory + "/no_tokenizer.gguf", no_tokenizer);
  TestModelOptions nan_weights;
  nan_weights.corrupt_weights = true;
  failures += write(vocabulary, directory + "/nan_weights.gguf", nan_weights);
  std::ofstream(directory + "/not_gguf.gguf")
      << "this is not a GGUF file, just 64 bytes of text to be rejected....\n";
  if (failures != 0) return 1;
  std::printf("wrote the test models to %s\n", directory.c_str());
  return 0;
}
