// Byte-level BPE merges; see byte_level_bpe.hpp.
#include "tokenizer/byte_level_bpe.hpp"

#include <algorithm>
#include <string>

#include "tokenizer/byte_unicode.hpp"

namespace llama_worker::tokenizer {

Result<ByteLevelBpe> ByteLevelBpe::create(const Vocabulary& vocabulary, const TokenIndex& index,
                                          bool ignore_merges) {
  ByteLevelBpe bpe;
  bpe.index_ = &index;
  bpe.ignore_merges_ = ignore_merges;
  const ByteUnicodeTable& table = ByteUnicodeTable::instance();
  // A byte whose alphabet character is not a token keeps kNoToken: encode_piece drops it.
  for (int byte = 0; byte < 256; ++byte)
    bpe.byte_token_[byte] = index.find(table.utf8(static_cast<uint8_t>(byte)));
  bpe.merges_.reserve(vocabulary.merges.size());
  std::string joined;
  for (size_t rank = 0; rank < vocabulary.merges.size(); ++rank) {
    const std::string& merge = vocabulary.merges[rank];
    const size_t space = merge.find(' ', 1);
    const std::string_view left(merge.data(), space);
    const std::string_view right(merge.data() + space + 1, merge.size() - space - 1);
    joined.assign(left);
    joined.append(right);
    const int32_t left_id = index.find(left);
    const int32_t right_id = index.find(right);
    const int32_t merged_id = index.find(joined);
    if (left_id < 0 || right_id < 0 || merged_id < 0) {
      return make_error(ErrorCode::kMalformedFile,
                        "byte-level BPE: merge " + std::to_string(rank) + " is not valid");
    }
    // A repeated pair keeps its first (lowest) rank, as Hugging Face does.
    bpe.merges_.insert(left_id, right_id, Merge{static_cast<int32_t>(rank), merged_id});
  }
  return bpe;
}

namespace {

struct Symbol {
  int32_t id;
  int32_t prev;
  int32_t next;
};

struct Candidate {
  int32_t rank;
  int32_t left;     // symbol index
  int32_t left_id;  // ids when pushed: the entry is stale once either changed
  int32_t right_id;
  int32_t merged;
};

// Min-heap order: lower rank first, then the leftmost.
struct LaterCandidate {
  bool operator()(const Candidate& a, const Candidate& b) const {
    return a.rank != b.rank ? a.rank > b.rank : a.left > b.left;
  }
};

struct Scratch {
  std::vector<Symbol> symbols;
  std::vector<Candidate> heap;
  std::string spelled;
};

Scratch& scratch() {
  thread_local Scratch instance;
  return instance;
}

}  // namespace

void ByteLevelBpe::encode_piece(std::string_view bytes, std::vector<int32_t>& out) const {
  if (bytes.empty()) return;
  if (bytes.size() == 1) {
    const int32_t id = byte_token_[static_cast<uint8_t>(bytes[0])];
    if (id != kNoToken) out.push_back(id);
    return;
  }
  Scratch& s = scratch();
  if (ignore_merges_) {
    s.spelled = ByteUnicodeTable::instance().encode(bytes);
    const int32_t whole = index_->find(s.spelled);
    if (whole >= 0) {
      out.push_back(whole);
      return;
    }
  }
  // Bytes without a token are dropped here, before merging, so their neighbours become adjacent
  // and may merge (Hugging Face's BPE skips an unknown character this way when there is no unk).
  s.symbols.resize(bytes.size());
  int32_t n = 0;
  for (const char c : bytes) {
    const int32_t id = byte_token_[static_cast<uint8_t>(c)];
    if (id == kNoToken) continue;
    s.symbols[static_cast<size_t>(n)] = {id, n - 1, n + 1};
    ++n;
  }
  if (n == 0) return;
  s.symbols[static_cast<size_t>(n - 1)].next = -1;
  s.heap.clear();
  const LaterCandidate later;
  auto push_pair = [&](int32_t left) {
    if (left < 0) return;
    const int32_t right = s.symbols[left].next;
    if (right < 0) return;
    const Merge* merge = merges_.find(s.symbols[left].id, s.symbols[right].id);
    if (!merge) return;
    s.heap.push_back({merge->rank, left, s.symbols[left].id, s.symbols[right].id, merge->merged});
    std::push_heap(s.heap.begin(), s.heap.end(), later);
  };
  for (int32_t i = 0; i + 1 < n; ++i) push_pair(i);

  while (!s.heap.empty()) {
    std::pop_heap(s.heap.begin(), s.heap.end(), later);
    const Candidate top = s.heap.back();
    s.heap.pop_back();
    Symbol& left = s.symbols[top.left];
    if (left.id != top.left_id || left.next < 0) continue;
    Symbol& right = s.symbols[left.next];
    if (right.id != top.right_id) continue;
    left.id = top.merged;
    const int32_t after = right.next;
    right.id = -1;  // removed
    left.next = after;
    if (after >= 0) s.symbols[after].prev = top.left;
    push_pair(left.prev);
    push_pair(top.left);
  }
  for (int32_t i = 0; i >= 0; i = s.symbols[i].next) out.push_back(s.symbols[i].id);
}

}  // namespace llama_worker::tokenizer
