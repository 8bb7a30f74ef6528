// SentencePiece-style BPE merges; see sentencepiece_bpe.hpp.
#include "tokenizer/sentencepiece_bpe.hpp"

#include <algorithm>

#include "tokenizer/utf8.hpp"

namespace llama_worker::tokenizer {

Result<SentencePieceBpe> SentencePieceBpe::create(const Vocabulary& vocabulary, const TokenIndex& index) {
  SentencePieceBpe bpe;
  bpe.index_ = &index;
  bpe.scores_ = &vocabulary.scores;
  bpe.unk_ = vocabulary.special.unk;
  bpe.byte_token_.fill(kNoToken);
  for (size_t id = 0; id < vocabulary.tokens.size(); ++id) {
    if (vocabulary.token_types[id] != TokenType::kByte) continue;
    const int byte = parse_byte_token(vocabulary.tokens[id]);
    if (byte >= 0) bpe.byte_token_[byte] = static_cast<int32_t>(id);
  }
  return bpe;
}

namespace {

struct Symbol {
  uint32_t begin;   // byte offset in the fragment
  uint32_t length;  // 0 once merged into its left neighbour
  int32_t prev;
  int32_t next;
};

struct Candidate {
  float score;
  int32_t left;
  int32_t right;
  uint32_t length;  // bytes of the pair when pushed: the entry is stale once a side changed
};

// Max-heap order: higher score first, then the leftmost.
struct LaterCandidate {
  bool operator()(const Candidate& a, const Candidate& b) const {
    return a.score != b.score ? a.score < b.score : a.left > b.left;
  }
};

struct Scratch {
  std::vector<Symbol> symbols;
  std::vector<Candidate> heap;
};

Scratch& scratch() {
  thread_local Scratch instance;
  return instance;
}

}  // namespace

void SentencePieceBpe::encode_fragment(std::string_view text, std::vector<int32_t>& out) const {
  if (text.empty()) return;
  Scratch& s = scratch();
  s.symbols.clear();
  for (size_t offset = 0; offset < text.size();) {
    const int length = std::max(1, utf8_sequence_length(static_cast<uint8_t>(text[offset])));
    const auto index = static_cast<int32_t>(s.symbols.size());
    s.symbols.push_back({static_cast<uint32_t>(offset), static_cast<uint32_t>(length), index - 1, index + 1});
    offset += static_cast<size_t>(length);
  }
  s.symbols.back().next = -1;
  s.heap.clear();
  const LaterCandidate later;
  const bool have_scores = !scores_->empty();
  auto push_pair = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const uint32_t length = s.symbols[left].length + s.symbols[right].length;
    const int32_t id = index_->find(text.substr(s.symbols[left].begin, length));
    if (id < 0) return;
    s.heap.push_back({have_scores ? (*scores_)[id] : 0.0f, left, right, length});
    std::push_heap(s.heap.begin(), s.heap.end(), later);
  };
  for (int32_t i = 0; i + 1 < static_cast<int32_t>(s.symbols.size()); ++i) push_pair(i, i + 1);

  while (!s.heap.empty()) {
    std::pop_heap(s.heap.begin(), s.heap.end(), later);
    const Candidate top = s.heap.back();
    s.heap.pop_back();
    Symbol& left = s.symbols[top.left];
    Symbol& right = s.symbols[top.right];
    if (left.length == 0 || right.length == 0 || left.next != top.right ||
        left.length + right.length != top.length) {
      continue;
    }
    left.length += right.length;
    right.length = 0;
    left.next = right.next;
    if (right.next >= 0) s.symbols[right.next].prev = top.left;
    push_pair(left.prev, top.left);
    push_pair(top.left, left.next);
  }

  for (int32_t i = 0; i >= 0; i = s.symbols[i].next) {
    const Symbol& symbol = s.symbols[i];
    const std::string_view piece = text.substr(symbol.begin, symbol.length);
    const int32_t id = index_->find(piece);
    if (id >= 0) {
      out.push_back(id);
      continue;
    }
    // Only a single character can miss: every merged symbol is a token.
    for (const char c : piece) {
      const int32_t byte_id = byte_token_[static_cast<uint8_t>(c)];
      if (byte_id >= 0) {
        out.push_back(byte_id);
      } else if (unk_ != kNoToken) {
        // Without byte fallback the whole character becomes one UNK.
        out.push_back(unk_);
        break;
      }
    }
  }
}

}  // namespace llama_worker::tokenizer
