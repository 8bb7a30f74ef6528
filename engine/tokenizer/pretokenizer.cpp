// Regex pre-tokenizers on PCRE2; see pretokenizer.hpp for the table and the adaptations.
#include "tokenizer/pretokenizer.hpp"

#include <pcre2.h>

namespace llama_worker::tokenizer {
namespace {

// Oniguruma's \s: the Unicode White_Space property.
constexpr std::string_view kWhiteSpace =
    "\\t\\n\\x{0B}\\f\\r "
    "\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}";

// Expands the placeholders {s} (one white-space character), {S} (one non-white-space
// character) and {ws} (the bare class body, for use inside [...]) in a pattern.
std::string expand(std::string_view pattern) {
  std::string out;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern.substr(i, 3) == "{s}") {
      out += "[" + std::string(kWhiteSpace) + "]";
      i += 2;
    } else if (pattern.substr(i, 3) == "{S}") {
      out += "[^" + std::string(kWhiteSpace) + "]";
      i += 2;
    } else if (pattern.substr(i, 4) == "{ws}") {
      out += kWhiteSpace;
      i += 3;
    } else {
      out.push_back(pattern[i]);
    }
  }
  return out;
}

// Hugging Face's patterns with \s spelled as placeholders.
const std::string& qwen2_pattern() {
  static const std::string pattern = expand(
      "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^{ws}\\p{L}\\p{N}]+[\\r\\n]*"
      "|{s}*[\\r\\n]+|{s}+(?!{S})|{s}+");
  return pattern;
}
const std::string& llama3_pattern() {
  static const std::string pattern = expand(
      "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^{ws}\\p{L}\\p{N}]+[\\r\\n]*"
      "|{s}*[\\r\\n]+|{s}+(?!{S})|{s}+");
  return pattern;
}
const std::string& gpt2_pattern() {
  static const std::string pattern =
      expand("'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^{ws}\\p{L}\\p{N}]+|{s}+(?!{S})|{s}+");
  return pattern;
}

}  // namespace

Result<PretokenizerConfig> pretokenizer_config(std::string_view pre) {
  if (pre == "qwen2" || pre == "deepseek-r1-qwen" || pre == "megrez") {
    return PretokenizerConfig{"qwen2", {qwen2_pattern()}, true, false};
  }
  if (pre == "llama-bpe" || pre == "llama3" || pre == "llama-v3") {
    return PretokenizerConfig{"llama-bpe", {llama3_pattern()}, false, true};
  }
  if (pre == "gpt-2" || pre == "gpt2") {
    return PretokenizerConfig{"gpt-2", {gpt2_pattern()}, false, false};
  }
  if (pre == "smollm") {
    return PretokenizerConfig{"smollm", {"\\p{N}", gpt2_pattern()}, false, false};
  }
  if (pre == "default" || pre.empty()) {
    // llama.cpp's list for BPE vocabularies that name no pre-tokenizer.
    return PretokenizerConfig{
        "default",
        {"[\\p{P}\\$\\+<=>\\^~\\|]+",
         expand("'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^{ws}\\p{L}\\p{N}]+|{s}+(?!{S})"), "\\p{N}+",
         "[0-9][0-9][0-9]"},
        false,
        false};
  }
  return make_error(ErrorCode::kUnsupported,
                    "unsupported pre-tokenizer '" + std::string(pre) +
                        "' (tokenizer.ggml.pre); supported: qwen2, llama-bpe, gpt-2, smollm, default");
}

struct Pretokenizer::Compiled {
  PretokenizerConfig config;
  std::vector<pcre2_code*> codes;

  ~Compiled() {
    for (pcre2_code* code : codes) pcre2_code_free(code);
  }
};

namespace {

// Per-thread match data and JIT stack: pcre2_match_data and JIT stacks must not be shared by
// threads matching at the same time.
struct MatchScratch {
  pcre2_match_data* data = nullptr;
  pcre2_match_context* context = nullptr;
  pcre2_jit_stack* jit_stack = nullptr;

  MatchScratch() {
    data = pcre2_match_data_create(4, nullptr);
    context = pcre2_match_context_create(nullptr);
    jit_stack = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, nullptr);
    if (context && jit_stack) pcre2_jit_stack_assign(context, nullptr, jit_stack);
  }
  ~MatchScratch() {
    pcre2_match_data_free(data);
    pcre2_match_context_free(context);
    pcre2_jit_stack_free(jit_stack);
  }
  MatchScratch(const MatchScratch&) = delete;
  MatchScratch& operator=(const MatchScratch&) = delete;
};

MatchScratch& scratch() {
  thread_local MatchScratch instance;
  return instance;
}

}  // namespace

Result<Pretokenizer> Pretokenizer::create(PretokenizerConfig config) {
  auto compiled = std::make_unique<Compiled>();
  for (const std::string& pattern : config.regexes) {
    int error_code = 0;
    PCRE2_SIZE error_offset = 0;
    pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                     PCRE2_UTF | PCRE2_UCP, &error_code, &error_offset, nullptr);
    if (!code) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(error_code, message, sizeof message);
      return make_error(ErrorCode::kInternal,
                        "pre-tokenizer '" + config.name + "': regex does not compile at offset " +
                            std::to_string(error_offset) + ": " + reinterpret_cast<const char*>(message));
    }
    compiled->codes.push_back(code);
    // JIT is an optimisation: when it is unavailable the interpreter gives the same matches.
    (void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
  }
  compiled->config = std::move(config);
  Pretokenizer pretokenizer;
  pretokenizer.compiled_ = std::move(compiled);
  return pretokenizer;
}

Pretokenizer::Pretokenizer(Pretokenizer&&) noexcept = default;
Pretokenizer& Pretokenizer::operator=(Pretokenizer&&) noexcept = default;
Pretokenizer::~Pretokenizer() = default;

const PretokenizerConfig& Pretokenizer::config() const { return compiled_->config; }

Status Pretokenizer::split(std::string_view text, std::vector<Piece>& pieces) const {
  pieces.clear();
  if (text.empty()) return Status::ok();
  pieces.push_back({0, text.size()});
  MatchScratch& match = scratch();
  if (!match.data || !match.context)
    return make_error(ErrorCode::kOutOfMemory, "pre-tokenizer: no match data");
  std::vector<Piece> next;
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  for (pcre2_code* code : compiled_->codes) {
    next.clear();
    next.reserve(pieces.size() * 2);
    for (const Piece piece : pieces) {
      size_t position = piece.begin;
      size_t unmatched_from = piece.begin;
      while (position < piece.end) {
        // The subject ends at the piece's end so that look-aheads see what the regex would see
        // if the piece were split out on its own, as Hugging Face does.
        const int rc =
            pcre2_match(code, subject, piece.end, position, PCRE2_NO_UTF_CHECK, match.data, match.context);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) {
          PCRE2_UCHAR message[256];
          pcre2_get_error_message(rc, message, sizeof message);
          return make_error(ErrorCode::kInternal,
                            "pre-tokenizer '" + compiled_->config.name +
                                "': regex match failed: " + reinterpret_cast<const char*>(message));
        }
        const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(match.data);
        size_t match_begin = ovector[0];
        size_t match_end = ovector[1];
        if (match_end == match_begin) {
          // An empty match splits nothing; step over one character.
          position = match_end + 1;
          while (position < piece.end && (static_cast<uint8_t>(text[position]) & 0xC0) == 0x80) ++position;
          continue;
        }
        if (match_begin > unmatched_from) next.push_back({unmatched_from, match_begin});
        next.push_back({match_begin, match_end});
        unmatched_from = match_end;
        position = match_end;
      }
      if (unmatched_from < piece.end) next.push_back({unmatched_from, piece.end});
    }
    pieces.swap(next);
  }
  return Status::ok();
}

}  // namespace llama_worker::tokenizer
