// tokenizer.ggml.* metadata -> Vocabulary; see vocabulary_from_gguf.hpp.
#include "tokenizer/vocabulary_from_gguf.hpp"

#include <algorithm>
#include <cctype>

namespace llama_worker::tokenizer {
namespace {

using gguf::Value;
using gguf::ValueType;

Error metadata_error(const gguf::File& file, std::string_view key, const std::string& problem) {
  return make_error(ErrorCode::kMalformedFile,
                    file.path() + ": metadata key '" + std::string(key) + "' " + problem);
}

std::string describe(const Value& value) {
  if (!value.is_array()) return std::string(gguf::value_type_name(value.type));
  return "arr[" + std::string(gguf::value_type_name(value.element_type)) + "]";
}

// The array at `key` with elements of exactly `element`; nullptr when absent and not required.
Result<const Value*> find_array(const gguf::File& file, std::string_view key, ValueType element,
                                bool required) {
  const Value* value = file.find(key);
  if (value == nullptr) {
    if (required)
      return make_error(ErrorCode::kMalformedFile,
                        file.path() + ": metadata key '" + std::string(key) + "' is missing");
    return static_cast<const Value*>(nullptr);
  }
  if (!value->is_array() || value->element_type != element) {
    return metadata_error(
        file, key,
        "is " + describe(*value) + ", expected arr[" + std::string(gguf::value_type_name(element)) + "]");
  }
  return value;
}

Result<std::string> get_string(const gguf::File& file, std::string_view key, bool required) {
  const Value* value = file.find(key);
  if (value == nullptr) {
    if (required)
      return make_error(ErrorCode::kMalformedFile,
                        file.path() + ": metadata key '" + std::string(key) + "' is missing");
    return std::string();
  }
  if (value->type != ValueType::kString)
    return metadata_error(file, key, "is " + describe(*value) + ", expected str");
  return std::string(value->string);
}

// Reads an optional token id into `id` (left unchanged when absent); any integer type.
Status get_token_id(const gguf::File& file, std::string_view key, size_t size, int32_t& id) {
  if (!file.has(key)) return Status::ok();
  Result<int64_t> raw = file.get<int64_t>(key);
  if (!raw) return metadata_error(file, key, "is not an integer token id (" + raw.error().message + ")");
  if (*raw < 0 || static_cast<uint64_t>(*raw) >= size) {
    return metadata_error(
        file, key, "is " + std::to_string(*raw) + ", out of range for " + std::to_string(size) + " tokens");
  }
  id = static_cast<int32_t>(*raw);
  return Status::ok();
}

Status get_flag(const gguf::File& file, std::string_view key, bool& flag) {
  const Value* value = file.find(key);
  if (value == nullptr) return Status::ok();
  if (value->type != ValueType::kBool)
    return metadata_error(file, key, "is " + describe(*value) + ", expected bool");
  flag = value->raw_at<uint8_t>(0) != 0;
  return Status::ok();
}

std::string lowercase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

}  // namespace

Result<Vocabulary> vocabulary_from_gguf_unvalidated(const gguf::File& file) {
  Vocabulary v;
  LW_ASSIGN_OR_RETURN(v.model, get_string(file, "tokenizer.ggml.model", true));
  LW_ASSIGN_OR_RETURN(v.pre, get_string(file, "tokenizer.ggml.pre", false));

  LW_ASSIGN_OR_RETURN(const Value* tokens,
                      find_array(file, "tokenizer.ggml.tokens", ValueType::kString, true));
  const size_t size = tokens->count;
  v.tokens.reserve(size);
  for (uint64_t i = 0; i < tokens->count; ++i) v.tokens.emplace_back(tokens->string_at(i));

  LW_ASSIGN_OR_RETURN(const Value* types,
                      find_array(file, "tokenizer.ggml.token_type", ValueType::kInt32, false));
  if (types) {
    if (types->count != size) {
      return metadata_error(
          file, "tokenizer.ggml.token_type",
          "has " + std::to_string(types->count) + " entries for " + std::to_string(size) + " tokens");
    }
    v.token_types.reserve(size);
    for (uint64_t i = 0; i < size; ++i) {
      const int32_t raw = types->raw_at<int32_t>(i);
      if (raw < 0 || raw > static_cast<int32_t>(TokenType::kByte)) {
        return metadata_error(
            file, "tokenizer.ggml.token_type",
            "element " + std::to_string(i) + " is " + std::to_string(raw) + ", not a token type (0..6)");
      }
      v.token_types.push_back(static_cast<TokenType>(raw));
    }
  } else {
    v.token_types.assign(size, TokenType::kNormal);
  }

  LW_ASSIGN_OR_RETURN(const Value* scores,
                      find_array(file, "tokenizer.ggml.scores", ValueType::kFloat32, false));
  if (scores) {
    if (scores->count != size) {
      return metadata_error(
          file, "tokenizer.ggml.scores",
          "has " + std::to_string(scores->count) + " entries for " + std::to_string(size) + " tokens");
    }
    v.scores.reserve(size);
    for (uint64_t i = 0; i < size; ++i) v.scores.push_back(scores->raw_at<float>(i));
  }

  LW_ASSIGN_OR_RETURN(const Value* merges,
                      find_array(file, "tokenizer.ggml.merges", ValueType::kString, v.model == "gpt2"));
  if (merges) {
    v.merges.reserve(merges->count);
    for (uint64_t i = 0; i < merges->count; ++i) v.merges.emplace_back(merges->string_at(i));
  }

  if (v.model == "llama") {
    // llama.cpp's defaults for SentencePiece vocabularies, kept only when in range.
    v.special.unk = size > 0 ? 0 : kNoToken;
    v.special.bos = size > 1 ? 1 : kNoToken;
    v.special.eos = size > 2 ? 2 : kNoToken;
    v.add_bos = true;
  } else if (v.pre == "llama-bpe" || v.pre == "llama3" || v.pre == "llama-v3") {
    v.add_bos = true;
  }
  LW_TRY(get_token_id(file, "tokenizer.ggml.bos_token_id", size, v.special.bos));
  LW_TRY(get_token_id(file, "tokenizer.ggml.eos_token_id", size, v.special.eos));
  LW_TRY(get_token_id(file, "tokenizer.ggml.eot_token_id", size, v.special.eot));
  LW_TRY(get_token_id(file, "tokenizer.ggml.unknown_token_id", size, v.special.unk));
  LW_TRY(get_token_id(file, "tokenizer.ggml.padding_token_id", size, v.special.pad));
  LW_TRY(get_flag(file, "tokenizer.ggml.add_bos_token", v.add_bos));
  LW_TRY(get_flag(file, "tokenizer.ggml.add_eos_token", v.add_eos));
  LW_TRY(get_flag(file, "tokenizer.ggml.add_space_prefix", v.add_space_prefix));

  if (v.special.eot == kNoToken) {
    for (const char* text : {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>"}) {
      const auto it = std::find(v.tokens.begin(), v.tokens.end(), text);
      if (it != v.tokens.end()) {
        v.special.eot = static_cast<int32_t>(it - v.tokens.begin());
        break;
      }
    }
  }

  Result<std::string> name = get_string(file, "general.name", false);
  const std::string lower_name = name ? lowercase(*name) : std::string();
  if (lower_name.find("phi-3") != std::string::npos || lower_name.find("phi3") != std::string::npos) {
    for (size_t id = 0; id < v.tokens.size(); ++id) {
      const TokenType type = v.token_types[id];
      const std::string& text = v.tokens[id];
      const bool special =
          type == TokenType::kControl || type == TokenType::kUserDefined || type == TokenType::kUnknown;
      const bool exempt = text == "<unk>" || text == "<s>" || text == "<|endoftext|>";
      if ((special && !exempt) || text == "</s>") v.rstrip_ids.push_back(static_cast<int32_t>(id));
    }
  }

  return v;
}

Result<Vocabulary> vocabulary_from_gguf(const gguf::File& file) {
  LW_ASSIGN_OR_RETURN(Vocabulary v, vocabulary_from_gguf_unvalidated(file));
  if (Status valid = validate_vocabulary(v); !valid) {
    return make_error(valid.code(), file.path() + ": " + valid.message());
  }
  return v;
}

}  // namespace llama_worker::tokenizer
