#include "runtime/chat_format.hpp"

namespace llama_worker::runtime {
namespace {

// The template's literal default system message: the text after "<|im_start|>system" + a newline
// (written as "\n" in the Jinja string or as a real newline) up to "<|im_end|>", when it contains
// no template syntax.
std::string default_system_message(std::string_view chat_template) {
  const std::string_view marker = "<|im_start|>system";
  size_t at = 0;
  while ((at = chat_template.find(marker, at)) != std::string_view::npos) {
    at += marker.size();
    std::string_view rest = chat_template.substr(at);
    if (rest.starts_with("\\n")) {
      rest.remove_prefix(2);
    } else if (rest.starts_with("\n")) {
      rest.remove_prefix(1);
    } else {
      continue;
    }
    const size_t end = rest.find("<|im_end|>");
    if (end == std::string_view::npos || end == 0) continue;
    const std::string_view message = rest.substr(0, end);
    if (message.find_first_of("{}'\"") != std::string_view::npos) continue;  // template code, not a literal
    return std::string(message);
  }
  return {};
}

}  // namespace

Result<ChatPrompt> format_chat_prompt(std::string_view chat_template, std::string_view user_message) {
  ChatPrompt prompt;
  if (chat_template.find("<|im_start|>") != std::string_view::npos) {
    prompt.format = ChatFormat::kChatMl;
    const std::string system = default_system_message(chat_template);
    if (!system.empty()) prompt.text = "<|im_start|>system\n" + system + "<|im_end|>\n";
    prompt.text += "<|im_start|>user\n" + std::string(user_message) + "<|im_end|>\n<|im_start|>assistant\n";
    return prompt;
  }
  if (chat_template.find("<|user|>") != std::string_view::npos &&
      chat_template.find("<|assistant|>") != std::string_view::npos) {
    prompt.format = ChatFormat::kPhi3;
    prompt.text = "<|user|>\n" + std::string(user_message) + "<|end|>\n<|assistant|>\n";
    return prompt;
  }
  if (chat_template.empty()) {
    return make_error(ErrorCode::kUnsupported, "--chat: the model has no tokenizer.chat_template");
  }
  return make_error(ErrorCode::kUnsupported,
                    "--chat: the model's chat template is neither ChatML (<|im_start|>) nor Phi-3 (<|user|>, "
                    "<|assistant|>)");
}

}  // namespace llama_worker::runtime
