// Validation of tokenizer::Vocabulary; the list of checks is in vocabulary.hpp.
#include "tokenizer/vocabulary.hpp"

#include <array>
#include <cstdio>
#include <string_view>
#include <unordered_map>

#include "tokenizer/pretokenizer.hpp"
#include "tokenizer/utf8.hpp"

namespace llama_worker::tokenizer {
namespace {

Error vocabulary_error(const std::string& message) {
  return make_error(ErrorCode::kMalformedFile, "tokenizer vocabulary: " + message);
}

// A short, printable rendering of a token for messages.
std::string quoted(std::string_view text) {
  std::string out = "'";
  for (const char c : text.substr(0, 40)) {
    const auto byte = static_cast<uint8_t>(c);
    if (byte < 0x20 || byte == 0x7F) {
      char buffer[8];
      std::snprintf(buffer, sizeof buffer, "\\x%02X", byte);
      out += buffer;
    } else {
      out.push_back(c);
    }
  }
  if (text.size() > 40) out += "...";
  return out + "'";
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

Status check_special_id(const char* what, int32_t id, size_t size) {
  if (id == kNoToken) return Status::ok();
  if (id < 0 || static_cast<size_t>(id) >= size) {
    return vocabulary_error(std::string(what) + " token id " + std::to_string(id) +
                            " is out of range (vocabulary size " + std::to_string(size) + ")");
  }
  return Status::ok();
}

}  // namespace

const char* token_type_name(TokenType type) {
  switch (type) {
    case TokenType::kUndefined:
      return "undefined";
    case TokenType::kNormal:
      return "normal";
    case TokenType::kUnknown:
      return "unknown";
    case TokenType::kControl:
      return "control";
    case TokenType::kUserDefined:
      return "user-defined";
    case TokenType::kUnused:
      return "unused";
    case TokenType::kByte:
      return "byte";
  }
  return "invalid";
}

int parse_byte_token(std::string_view text) {
  if (text.size() != 6 || text.substr(0, 3) != "<0x" || text[5] != '>') return -1;
  const int high = hex_value(text[3]);
  const int low = hex_value(text[4]);
  if (high < 0 || low < 0) return -1;
  return high * 16 + low;
}

Status validate_vocabulary(const Vocabulary& v) {
  const bool byte_level = v.model == "gpt2";
  if (!byte_level && v.model != "llama") {
    return make_error(ErrorCode::kUnsupported,
                      "unsupported tokenizer model '" + v.model +
                          "' (tokenizer.ggml.model); supported: gpt2 (byte-level BPE), "
                          "llama (SentencePiece-style BPE)");
  }
  if (byte_level) LW_TRY(pretokenizer_config(v.pre));
  const size_t size = v.tokens.size();
  if (size == 0) return vocabulary_error("no tokens");
  if (size > static_cast<size_t>(INT32_MAX)) return vocabulary_error("too many tokens");
  if (v.token_types.size() != size) {
    return vocabulary_error("token_type has " + std::to_string(v.token_types.size()) + " entries for " +
                            std::to_string(size) + " tokens");
  }
  if (!v.scores.empty() && v.scores.size() != size) {
    return vocabulary_error("scores has " + std::to_string(v.scores.size()) + " entries for " +
                            std::to_string(size) + " tokens");
  }

  std::unordered_map<std::string_view, size_t> index;
  index.reserve(size);
  std::array<int64_t, 256> byte_owner;
  byte_owner.fill(-1);
  for (size_t id = 0; id < size; ++id) {
    const std::string& token = v.tokens[id];
    if (token.empty()) return vocabulary_error("token " + std::to_string(id) + " is empty");
    if (Status utf8 = validate_utf8(token); !utf8) {
      return vocabulary_error("token " + std::to_string(id) + " is not valid UTF-8 (" + utf8.message() + ")");
    }
    const auto [it, inserted] = index.emplace(token, id);
    if (!inserted) {
      return vocabulary_error("duplicate token " + quoted(token) + " at ids " + std::to_string(it->second) +
                              " and " + std::to_string(id));
    }
    const auto raw_type = static_cast<int32_t>(v.token_types[id]);
    if (raw_type < 0 || raw_type > static_cast<int32_t>(TokenType::kByte)) {
      return vocabulary_error("token " + std::to_string(id) + " has unknown token type " +
                              std::to_string(raw_type));
    }
    if (v.token_types[id] == TokenType::kByte) {
      const int byte = parse_byte_token(token);
      if (byte < 0) {
        return vocabulary_error("byte token " + std::to_string(id) + " " + quoted(token) +
                                " is not spelled <0xHH> with two hex digits");
      }
      if (byte_owner[byte] >= 0) {
        return vocabulary_error("byte 0x" + std::string(token.substr(3, 2)) + " has two byte tokens, ids " +
                                std::to_string(byte_owner[byte]) + " and " + std::to_string(id));
      }
      byte_owner[byte] = static_cast<int64_t>(id);
    }
  }

  // Byte-alphabet tokens are not required: Hugging Face and llama.cpp load vocabularies without
  // some of them (SmolLM2), and such a byte is dropped when encoding (byte_level_bpe.hpp).
  if (byte_level && v.merges.empty()) {
    return vocabulary_error("byte-level BPE (gpt2) needs merges (tokenizer.ggml.merges)");
  }
  std::string joined;
  for (size_t rank = 0; rank < v.merges.size(); ++rank) {
    const std::string& merge = v.merges[rank];
    const size_t space = merge.size() > 1 ? merge.find(' ', 1) : std::string::npos;
    if (space == std::string::npos || space + 1 >= merge.size() ||
        merge.find(' ', space + 1) != std::string::npos) {
      return vocabulary_error("merge " + std::to_string(rank) + " " + quoted(merge) +
                              " is not two tokens separated by one space");
    }
    const std::string_view left(merge.data(), space);
    const std::string_view right(merge.data() + space + 1, merge.size() - space - 1);
    joined.assign(left);
    joined.append(right);
    for (const std::string_view part : {left, right, std::string_view(joined)}) {
      if (!index.count(part)) {
        return vocabulary_error("merge " + std::to_string(rank) + " " + quoted(merge) + " names " +
                                quoted(part) + ", which is not a token");
      }
    }
  }

  LW_TRY(check_special_id("BOS", v.special.bos, size));
  LW_TRY(check_special_id("EOS", v.special.eos, size));
  LW_TRY(check_special_id("EOT", v.special.eot, size));
  LW_TRY(check_special_id("UNK", v.special.unk, size));
  LW_TRY(check_special_id("PAD", v.special.pad, size));
  if (v.add_bos && v.special.bos == kNoToken)
    return vocabulary_error("add_bos_token is true but there is no BOS id");
  if (v.add_eos && v.special.eos == kNoToken)
    return vocabulary_error("add_eos_token is true but there is no EOS id");
  for (const int32_t id : v.rstrip_ids) LW_TRY(check_special_id("rstrip", id, size));
  return Status::ok();
}

}  // namespace llama_worker::tokenizer
