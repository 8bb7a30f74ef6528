#include "model/synthetic/synthetic_model.hpp"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <new>
#include <system_error>
#include <thread>
#include <vector>

#include "gguf/file.hpp"
#include "model/synthetic/metadata_copy.hpp"
#include "model/synthetic/weight_values.hpp"
#include "quant/quantize.hpp"

namespace llama_worker::synthetic {
namespace {

constexpr int64_t kChunkElements = int64_t{1} << 20;  // floats generated and quantized at a time

struct TensorJob {
  const TensorSpec* spec = nullptr;
  gguf::TensorType type = gguf::TensorType::kF32;
  std::vector<uint8_t> bytes;
};

Status make_tensor(uint64_t seed, TensorJob& job) {
  const TensorSpec& spec = *job.spec;
  const int64_t row = spec.shape[0];
  int64_t rows = 1;
  for (size_t i = 1; i < spec.shape.size(); ++i) rows *= spec.shape[i];
  LW_ASSIGN_OR_RETURN(const uint64_t row_bytes, gguf::row_bytes(job.type, row));
  job.bytes.assign(row_bytes * static_cast<uint64_t>(rows), 0);
  sampling::Generator generator = tensor_generator(seed, spec.name);
  const int64_t rows_per_chunk = std::max<int64_t>(1, kChunkElements / row);
  std::vector<float> values(static_cast<size_t>(rows_per_chunk * row));
  for (int64_t first = 0; first < rows; first += rows_per_chunk) {
    const int64_t count = std::min(rows_per_chunk, rows - first) * row;
    fill_values(generator, spec.role, row, values.data(), count);
    const Status status = quant::quantize_row(
        job.type, values.data(), job.bytes.data() + static_cast<uint64_t>(first) * row_bytes, count);
    if (!status) return make_error(status.code(), "tensor '" + spec.name + "': " + status.message());
  }
  return Status::ok();
}

// Runs make_tensor over all jobs on `threads` threads; the first error wins.
Status make_tensors(uint64_t seed, std::vector<TensorJob>& jobs, int threads) {
  std::atomic<size_t> next{0};
  std::mutex error_mutex;
  Status first_error;
  auto work = [&] {
    for (size_t i = next++; i < jobs.size(); i = next++) {
      Status status;
      try {
        status = make_tensor(seed, jobs[i]);
      } catch (const std::bad_alloc&) {  // on a worker thread it would terminate the process
        status =
            make_error(ErrorCode::kOutOfMemory, "tensor '" + jobs[i].spec->name + "': out of host memory");
      }
      if (!status) {
        std::lock_guard lock(error_mutex);
        if (first_error) first_error = status;
        next = jobs.size();
      }
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) {
    try {
      pool.emplace_back(work);
    } catch (const std::system_error&) {
      break;  // out of threads: the workers that started (and this one) take every job
    }
  }
  work();
  for (auto& thread : pool) thread.join();
  return first_error;
}

void set_hyperparameters(const gguf::File& vocabulary, const ModelShape& shape,
                         const ShapeOverrides& overrides, gguf::Writer& writer) {
  const std::string prefix = shape.architecture + ".";
  const auto set_if = [&](const std::string& key, int64_t value, bool overridden) {
    if (overridden || vocabulary.has(prefix + key)) writer.set(prefix + key, static_cast<uint32_t>(value));
  };
  set_if("block_count", shape.layers, overrides.layers.has_value());
  set_if("embedding_length", shape.embedding, overrides.embedding.has_value());
  set_if("feed_forward_length", shape.feed_forward, overrides.feed_forward.has_value());
  set_if("attention.head_count", shape.heads, overrides.heads.has_value());
  set_if("attention.head_count_kv", shape.kv_heads, overrides.kv_heads.has_value());
  if ((overrides.embedding || overrides.heads) && vocabulary.has(prefix + "rope.dimension_count")) {
    writer.set(prefix + "rope.dimension_count", static_cast<uint32_t>(shape.head_size));
  }
}

}  // namespace

Result<SyntheticSummary> build_synthetic_model(const SyntheticOptions& options, gguf::Writer& writer) {
  LW_ASSIGN_OR_RETURN(const QuantRecipe recipe, find_recipe(options.recipe));
  LW_ASSIGN_OR_RETURN(const gguf::File vocabulary, gguf::File::open(options.vocabulary_path));
  if (!vocabulary.tensors().empty()) {
    return make_error(ErrorCode::kInvalidArgument, options.vocabulary_path + ": has " +
                                                       std::to_string(vocabulary.tensors().size()) +
                                                       " tensors; expected a weightless vocabulary file");
  }
  LW_ASSIGN_OR_RETURN(const ModelShape shape, model_shape(vocabulary, options.overrides));

  LW_TRY(copy_metadata(vocabulary, writer));
  set_hyperparameters(vocabulary, shape, options.overrides, writer);
  writer.set("general.file_type", recipe.file_type);
  writer.set("general.quantization_version", uint32_t{2});
  writer.set("general.description", "synthetic model with random weights: llama-worker mkmodel --quant " +
                                        std::string(recipe.name) + " --seed " + std::to_string(options.seed));

  const std::vector<TensorSpec> plan = tensor_plan(shape);
  const RecipeContext context{shape.layers, !shape.tied};
  std::vector<TensorJob> jobs(plan.size());
  for (size_t i = 0; i < plan.size(); ++i) {
    jobs[i].spec = &plan[i];
    jobs[i].type = choose_tensor_type(recipe, context, plan[i].name, plan[i].shape);
  }
  const unsigned hardware = std::max(1u, std::thread::hardware_concurrency());
  const int threads = options.threads > 0 ? options.threads : static_cast<int>(hardware);
  LW_TRY(make_tensors(options.seed, jobs, threads));

  SyntheticSummary summary;
  summary.shape = shape;
  summary.recipe = recipe;
  summary.tensor_count = jobs.size();
  for (TensorJob& job : jobs) {
    int64_t elements = 1;
    for (const int64_t dim : job.spec->shape) elements *= dim;
    summary.parameters += static_cast<uint64_t>(elements);
    summary.tensor_bytes += job.bytes.size();
    ++summary.type_counts[std::string(gguf::tensor_type_name(job.type))];
    writer.add_tensor(job.spec->name, job.type, job.spec->shape, std::move(job.bytes));
  }
  return summary;
}

}  // namespace llama_worker::synthetic
