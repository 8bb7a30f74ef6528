// Upstream test-vector format; see upstream_cases.hpp.
#include "tokenizer/upstream_cases.hpp"

namespace llama_worker::tokenizer {

Result<std::vector<std::string>> parse_upstream_cases(std::string_view content) {
  std::vector<std::string> cases;
  size_t begin = 0;
  while (begin < content.size()) {
    // The separator's leading newline ends the case, so an empty case is a separator right at
    // `begin` and plain splitting (Python's str.split) is exact.
    const size_t found = content.find(kUpstreamCaseSeparator, begin);
    if (found == std::string_view::npos) {
      return make_error(
          ErrorCode::kMalformedFile,
          "test cases: text after the last '__ggml_vocab_test__' line at byte " + std::to_string(begin));
    }
    cases.emplace_back(content.substr(begin, found - begin));
    begin = found + kUpstreamCaseSeparator.size();
  }
  return cases;
}

std::string format_upstream_ids(const std::vector<int32_t>& ids) {
  std::string line;
  for (const int32_t id : ids) {
    line.push_back(' ');
    line += std::to_string(id);
  }
  return line;
}

}  // namespace llama_worker::tokenizer
