// Shared by the tokenizer golden tests (golden_test.cpp, smollm2_golden_test.cpp): compares a
// tokenizer with the cases of one Hugging Face golden (make_goldens.py). Each case holds the text,
// the ids with special-token parsing off ("plain") and on ("special", present only when it
// differs) and the text decoded from the plain ids; all three must be equal. Mismatches are
// reported (the first 10) with the text escaped; the counts are returned.
#pragma once

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.hpp"

namespace llama_worker::tokenizer::golden {

inline std::string escaped(const std::string& text) {
  std::string out;
  for (const char c : text.substr(0, 120)) {
    const auto byte = static_cast<uint8_t>(c);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (byte < 0x20) {
      char buffer[8];
      std::snprintf(buffer, sizeof buffer, "\\x%02X", byte);
      out += buffer;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

inline std::string join(const std::vector<int32_t>& ids) {
  std::string out;
  for (const int32_t id : ids) {
    if (!out.empty()) out.push_back(' ');
    out += std::to_string(id);
  }
  return out;
}

struct CompareCounts {
  size_t checked = 0;   // (n) cases compared
  size_t failures = 0;  // (n) cases with any difference
};

// `cases`: a golden's "cases" or "extra_cases" array; `label` names the golden in messages.
inline CompareCounts compare_cases(const Tokenizer& tokenizer, const nlohmann::json& cases,
                                   const std::string& label) {
  CompareCounts counts;
  const EncodeOptions plain_options{false, false};
  const EncodeOptions special_options{false, true};
  for (const nlohmann::json& item : cases) {
    const std::string text = item.at("text").get<std::string>();
    const auto plain = item.at("plain").get<std::vector<int32_t>>();
    const auto special = item.contains("special") ? item.at("special").get<std::vector<int32_t>>() : plain;
    const std::string decoded = item.at("decoded").get<std::string>();
    Result<std::vector<int32_t>> got_plain = tokenizer.encode(text, plain_options);
    Result<std::vector<int32_t>> got_special = tokenizer.encode(text, special_options);
    Result<std::string> got_decoded = tokenizer.decode(plain);
    ++counts.checked;
    if (!got_plain || !got_special || !got_decoded) {
      ++counts.failures;
      ADD_FAILURE() << label << ": encode or decode failed for '" << escaped(text) << "'";
      continue;
    }
    const bool ok = *got_plain == plain && *got_special == special && *got_decoded == decoded;
    if (!ok && ++counts.failures <= 10) {
      ADD_FAILURE() << label << ": '" << escaped(text) << "'\n"
                    << "  plain    ours " << join(*got_plain) << "\n           hf   " << join(plain) << "\n"
                    << "  special  ours " << join(*got_special) << "\n           hf   " << join(special)
                    << "\n"
                    << "  decoded  ours '" << escaped(*got_decoded) << "'\n           hf   '"
                    << escaped(decoded) << "'";
    }
  }
  return counts;
}

}  // namespace llama_worker::tokenizer::golden
