// Copies every metadata entry of a GGUF file into a Writer, keeping key order and value types
// (the synthetic model inherits the vocabulary file's tokenizer and general.* keys verbatim).
#pragma once

#include "core/status.hpp"
#include "gguf/file.hpp"
#include "gguf/writer.hpp"

namespace llama_worker::synthetic {

Status copy_metadata(const gguf::File& source, gguf::Writer& writer);

}  // namespace llama_worker::synthetic
