// Tokenizer: the encode/decode pipeline over the two BPE flavours; see tokenizer.hpp.
#include "tokenizer/tokenizer.hpp"

#include <optional>

#include "tokenizer/added_tokens.hpp"
#include "tokenizer/byte_level_bpe.hpp"
#include "tokenizer/byte_unicode.hpp"
#include "tokenizer/pretokenizer.hpp"
#include "tokenizer/sentencepiece_bpe.hpp"
#include "tokenizer/token_index.hpp"
#include "tokenizer/utf8.hpp"

namespace llama_worker::tokenizer {
namespace {

constexpr std::string_view kSpaceMarker = "\xE2\x96\x81";  // U+2581 LOWER ONE EIGHTH BLOCK

// The bytes a token stands for when decoding.
std::string token_bytes(const Vocabulary& v, size_t id) {
  const std::string& text = v.tokens[id];
  const TokenType type = v.token_types[id];
  if (type == TokenType::kControl || type == TokenType::kUserDefined || type == TokenType::kUnknown)
    return text;
  if (type == TokenType::kByte) {
    const int byte = parse_byte_token(text);
    return std::string(1, static_cast<char>(byte));
  }
  if (v.model == "gpt2") {
    // Hugging Face's ByteLevel decoder: a token with a character outside the byte alphabet is
    // taken as its UTF-8 text.
    std::optional<std::string> bytes = ByteUnicodeTable::instance().decode(text);
    return bytes ? *bytes : text;
  }
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    if (text.compare(i, kSpaceMarker.size(), kSpaceMarker) == 0) {
      out.push_back(' ');
      i += kSpaceMarker.size();
    } else {
      out.push_back(text[i++]);
    }
  }
  return out;
}

}  // namespace

struct Tokenizer::State {
  Vocabulary vocabulary;
  TokenIndex index;
  AddedTokenMatcher added;
  std::vector<std::string> pieces;  // (n_vocab) decoded bytes of each token
  bool byte_level = false;
  std::optional<Pretokenizer> pretokenizer;
  std::optional<ByteLevelBpe> byte_level_bpe;
  std::optional<SentencePieceBpe> sentencepiece_bpe;
};

Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Result<Tokenizer> Tokenizer::create(Vocabulary vocabulary) {
  LW_TRY(validate_vocabulary(vocabulary));
  auto state = std::make_unique<State>();
  state->vocabulary = std::move(vocabulary);
  const Vocabulary& v = state->vocabulary;  // its strings no longer move: views into them are stable
  state->index = TokenIndex(v.tokens);
  state->added = AddedTokenMatcher(v);
  state->pieces.reserve(v.tokens.size());
  for (size_t id = 0; id < v.tokens.size(); ++id) state->pieces.push_back(token_bytes(v, id));
  state->byte_level = v.model == "gpt2";
  if (state->byte_level) {
    LW_ASSIGN_OR_RETURN(PretokenizerConfig config, pretokenizer_config(v.pre));
    const bool ignore_merges = config.ignore_merges;
    LW_ASSIGN_OR_RETURN(Pretokenizer pretokenizer, Pretokenizer::create(std::move(config)));
    state->pretokenizer.emplace(std::move(pretokenizer));
    LW_ASSIGN_OR_RETURN(ByteLevelBpe bpe, ByteLevelBpe::create(v, state->index, ignore_merges));
    state->byte_level_bpe.emplace(std::move(bpe));
  } else {
    LW_ASSIGN_OR_RETURN(SentencePieceBpe bpe, SentencePieceBpe::create(v, state->index));
    state->sentencepiece_bpe.emplace(std::move(bpe));
  }
  Tokenizer tokenizer;
  tokenizer.state_ = std::move(state);
  return tokenizer;
}

namespace {

struct EncodeScratch {
  std::vector<Fragment> fragments;
  std::vector<Piece> pieces;
  std::string buffer;
};

EncodeScratch& encode_scratch() {
  thread_local EncodeScratch instance;
  return instance;
}

}  // namespace

Result<std::vector<int32_t>> Tokenizer::encode(std::string_view text, const EncodeOptions& options) const {
  LW_TRY(validate_utf8(text));
  const State& s = *state_;
  const Vocabulary& v = s.vocabulary;
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 2);
  if (options.add_special && v.add_bos) out.push_back(v.special.bos);

  EncodeScratch& scratch = encode_scratch();
  s.added.split(text, options.parse_special, scratch.fragments);
  bool after_added_token = true;  // the text start counts as "after a token" for the dummy prefix
  for (const Fragment& fragment : scratch.fragments) {
    if (fragment.token != kNoToken) {
      out.push_back(fragment.token);
      after_added_token = true;
      continue;
    }
    std::string_view piece_text = text.substr(fragment.begin, fragment.end - fragment.begin);
    if (s.byte_level) {
      std::string normalized;
      if (s.pretokenizer->config().nfc && !is_trivially_nfc(piece_text)) {
        LW_ASSIGN_OR_RETURN(normalized, nfc_normalize(piece_text));
        piece_text = normalized;
      }
      LW_TRY(s.pretokenizer->split(piece_text, scratch.pieces));
      for (const Piece& piece : scratch.pieces) {
        s.byte_level_bpe->encode_piece(piece_text.substr(piece.begin, piece.end - piece.begin), out);
      }
    } else {
      std::string& escaped = scratch.buffer;
      escaped.clear();
      if (v.add_space_prefix && after_added_token) escaped += kSpaceMarker;
      for (const char c : piece_text) {
        if (c == ' ') {
          escaped += kSpaceMarker;
        } else {
          escaped.push_back(c);
        }
      }
      s.sentencepiece_bpe->encode_fragment(escaped, out);
    }
    after_added_token = false;
  }
  if (options.add_special && v.add_eos) out.push_back(v.special.eos);
  return out;
}

Result<std::string> Tokenizer::decode_bytes(std::span<const int32_t> ids,
                                            const DecodeOptions& options) const {
  std::string out;
  bool first_text = true;
  for (size_t i = 0; i < ids.size(); ++i) {
    const int32_t id = ids[i];
    if (id < 0 || id >= size()) {
      return make_error(ErrorCode::kInvalidArgument,
                        "token id " + std::to_string(id) + " at position " + std::to_string(i) +
                            " is out of range (vocabulary size " + std::to_string(size()) + ")");
    }
    if (options.skip_special && is_special(id)) continue;
    std::string_view piece = state_->pieces[static_cast<size_t>(id)];
    if (first_text && options.strip_dummy_prefix && strips_dummy_prefix() && !piece.empty() &&
        piece[0] == ' ') {
      piece.remove_prefix(1);
    }
    if (!state_->pieces[static_cast<size_t>(id)].empty()) first_text = false;
    out.append(piece);
  }
  return out;
}

Result<std::string> Tokenizer::decode(std::span<const int32_t> ids, const DecodeOptions& options) const {
  LW_ASSIGN_OR_RETURN(std::string bytes, decode_bytes(ids, options));
  if (validate_utf8(bytes)) return bytes;
  return repair_utf8(bytes);
}

Result<std::string_view> Tokenizer::token_piece(int32_t id) const {
  if (id < 0 || id >= size()) {
    return make_error(ErrorCode::kInvalidArgument, "token id " + std::to_string(id) +
                                                       " is out of range (vocabulary size " +
                                                       std::to_string(size()) + ")");
  }
  return std::string_view(state_->pieces[static_cast<size_t>(id)]);
}

bool Tokenizer::is_special(int32_t id) const {
  if (id < 0 || id >= size()) return false;
  const TokenType type = state_->vocabulary.token_types[static_cast<size_t>(id)];
  return type == TokenType::kControl || type == TokenType::kUnknown;
}

bool Tokenizer::strips_dummy_prefix() const {
  return !state_->byte_level && state_->vocabulary.add_space_prefix;
}

const Vocabulary& Tokenizer::vocabulary() const { return state_->vocabulary; }

int32_t Tokenizer::size() const { return static_cast<int32_t>(state_->vocabulary.tokens.size()); }

int32_t Tokenizer::find_token(std::string_view text) const { return state_->index.find(text); }

bool Tokenizer::is_end_of_generation(int32_t id) const {
  const SpecialTokenIds& special = state_->vocabulary.special;
  return id != kNoToken && (id == special.eos || id == special.eot);
}

}  // namespace llama_worker::tokenizer
