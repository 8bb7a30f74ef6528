// The upstream (llama.cpp) tokenizer test-vector format, shared by the CLI and the tests.
//   .inp: cases, each followed by the line "__ggml_vocab_test__" (so every case ends with
//         "\n__ggml_vocab_test__\n"); a case may hold newlines and may be empty.
//   .out: one line per case: " id id id" (a leading space before each id), empty for no ids.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.hpp"

namespace llama_worker::tokenizer {

inline constexpr std::string_view kUpstreamCaseSeparator = "\n__ggml_vocab_test__\n";

// Splits an .inp file's content into its cases; kMalformedFile when text follows the last
// separator.
Result<std::vector<std::string>> parse_upstream_cases(std::string_view content);

// One .out line without its newline: " 9707 1879".
std::string format_upstream_ids(const std::vector<int32_t>& ids);

}  // namespace llama_worker::tokenizer
