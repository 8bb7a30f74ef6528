// Chat formats, recognised from the model's tokenizer.chat_template (a Jinja template this
// engine does not execute). Two families are recognised by their markers:
//   ChatML (Qwen, SmolLM):
//   <|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{prompt}<|im_end|>\n<|im_start|>assistant\n
//                           {system}: the template's built-in default system message when it has
//                           one (Qwen: "You are Qwen, created by Alibaba Cloud. ..."), else none
//   Phi-3:                  <|user|>\n{prompt}<|end|>\n<|assistant|>\n   (BOS from the vocabulary)
// Any other template is a clear kUnsupported error naming what was looked for.
#pragma once

#include <string>
#include <string_view>

#include "core/status.hpp"

namespace llama_worker::runtime {

enum class ChatFormat { kChatMl, kPhi3 };

struct ChatPrompt {
  ChatFormat format = ChatFormat::kChatMl;
  std::string text;  // the prompt to encode with special tokens parsed
};

// Detects the format from `chat_template` and wraps one user message.
Result<ChatPrompt> format_chat_prompt(std::string_view chat_template, std::string_view user_message);

}  // namespace llama_worker::runtime
