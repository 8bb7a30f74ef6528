// Added-token matching; see added_tokens.hpp.
#include "tokenizer/added_tokens.hpp"

#include <algorithm>

#include "tokenizer/utf8.hpp"

namespace llama_worker::tokenizer {

bool is_white_space(char32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
         cp == 0x3000;
}

AddedTokenMatcher::AddedTokenMatcher(const Vocabulary& vocabulary) : vocabulary_(&vocabulary) {
  rstrip_.assign(vocabulary.tokens.size(), false);
  for (const int32_t id : vocabulary.rstrip_ids) rstrip_[static_cast<size_t>(id)] = true;
  for (size_t id = 0; id < vocabulary.tokens.size(); ++id) {
    const TokenType type = vocabulary.token_types[id];
    const bool always = type == TokenType::kUserDefined;
    const bool special = type == TokenType::kControl || type == TokenType::kUnknown;
    if (!always && !special) continue;
    const auto first = static_cast<uint8_t>(vocabulary.tokens[id][0]);
    by_first_byte_[first].push_back({static_cast<int32_t>(id), special});
    first_byte_any_[first] = true;
    if (always) first_byte_plain_[first] = true;
  }
  for (auto& candidates : by_first_byte_) {
    std::stable_sort(candidates.begin(), candidates.end(), [&](const Candidate& a, const Candidate& b) {
      return vocabulary.tokens[a.id].size() > vocabulary.tokens[b.id].size();
    });
  }
}

void AddedTokenMatcher::split(std::string_view text, bool parse_special,
                              std::vector<Fragment>& fragments) const {
  fragments.clear();
  const auto& starts = parse_special ? first_byte_any_ : first_byte_plain_;
  size_t text_begin = 0;
  size_t position = 0;
  while (position < text.size()) {
    const auto byte = static_cast<uint8_t>(text[position]);
    int32_t found = kNoToken;
    if (starts[byte]) {
      for (const Candidate& candidate : by_first_byte_[byte]) {
        if (candidate.special && !parse_special) continue;
        const std::string& token = vocabulary_->tokens[static_cast<size_t>(candidate.id)];
        if (text.compare(position, token.size(), token) == 0) {
          found = candidate.id;
          break;
        }
      }
    }
    if (found == kNoToken) {
      ++position;
      continue;
    }
    if (position > text_begin) fragments.push_back({text_begin, position, kNoToken});
    size_t end = position + vocabulary_->tokens[static_cast<size_t>(found)].size();
    if (rstrip_[static_cast<size_t>(found)]) {
      while (end < text.size()) {
        size_t next = end;
        if (!is_white_space(next_code_point(text, next))) break;
        end = next;
      }
    }
    fragments.push_back({position, end, found});
    text_begin = end;
    position = end;
  }
  if (text_begin < text.size()) fragments.push_back({text_begin, text.size(), kNoToken});
}

}  // namespace llama_worker::tokenizer
