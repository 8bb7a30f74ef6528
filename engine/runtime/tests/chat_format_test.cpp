// Chat format recognition on the real templates' markers.
#include <gtest/gtest.h>

#include "runtime/chat_format.hpp"

namespace llama_worker::runtime {
namespace {

TEST(ChatFormat, ChatMlWithTheTemplatesDefaultSystemMessage) {
  // Qwen2.5's template literal, with the Jinja "\n" escapes as they appear in the GGUF string.
  const std::string qwen =
      "{%- else %}\n        {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a "
      "helpful "
      "assistant.<|im_end|>\\n' }}\n    {%- endif %}";
  auto prompt = format_chat_prompt(qwen, "Hi");
  ASSERT_TRUE(prompt) << prompt.error().message;
  EXPECT_EQ(prompt->format, ChatFormat::kChatMl);
  EXPECT_EQ(
      prompt->text,
      "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
      "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
}

TEST(ChatFormat, ChatMlWithoutALiteralSystemMessage) {
  auto prompt = format_chat_prompt(
      "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>'}}", "Hi");
  ASSERT_TRUE(prompt);
  EXPECT_EQ(prompt->text, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
}

TEST(ChatFormat, Phi3) {
  auto prompt = format_chat_prompt(
      "{{ bos_token }}{% for message in messages %}{{'<|user|>' + '\\n' + "
      "message['content'] + '<|end|>' + '\\n' + '<|assistant|>' + '\\n'}}",
      "Hi");
  ASSERT_TRUE(prompt);
  EXPECT_EQ(prompt->format, ChatFormat::kPhi3);
  EXPECT_EQ(prompt->text, "<|user|>\nHi<|end|>\n<|assistant|>\n");
}

TEST(ChatFormat, UnknownTemplateIsAClearError) {
  auto prompt = format_chat_prompt("[INST] {{ content }} [/INST]", "Hi");
  ASSERT_FALSE(prompt);
  EXPECT_EQ(prompt.error().code, ErrorCode::kUnsupported);
  EXPECT_NE(prompt.error().message.find("neither ChatML"), std::string::npos);
  EXPECT_FALSE(format_chat_prompt("", "Hi"));
}

}  // namespace
}  // namespace llama_worker::runtime
