"""ModelOptions (lw_model_options) and SamplingParams (lw_sampling_params), defaults from the library."""
import dataclasses
import enum

from . import _library, _raw


class Backend(enum.IntEnum):
    CUDA = _raw.LW_BACKEND_CUDA  # device memory of the context's GPU
    CPU = _raw.LW_BACKEND_CPU  # the CPU reference backend


@dataclasses.dataclass
class ModelOptions:
    """backend; cpu_threads (0 = all cores); context_length (0 = min(model, 4096)); vram_budget_bytes
    (0 = free memory only); upload_chunk_bytes (0 = 1 MiB); max_inferences (0 or 1 = one; 2 .. 256 on
    the CPU backend). Defaults: cuda_default_model_options()."""
    backend: Backend = None
    cpu_threads: int = None
    context_length: int = None
    vram_budget_bytes: int = None
    upload_chunk_bytes: int = None
    max_inferences: int = None

    def __post_init__(self):
        defaults = _library.library().cuda_default_model_options()
        for field in dataclasses.fields(self):
            if getattr(self, field.name) is None:
                setattr(self, field.name, getattr(defaults, field.name))
        self.backend = Backend(self.backend)

    @classmethod
    def cpu(cls, **overrides):
        return cls(backend=Backend.CPU, **overrides)

    def to_raw(self):
        return _raw.lw_model_options(int(self.backend), self.cpu_threads, self.context_length,
                                     self.vram_budget_bytes, self.upload_chunk_bytes, self.max_inferences)


@dataclasses.dataclass
class SamplingParams:
    """temperature (0 = greedy), top_k (0 = all), top_p (1 = off), min_p (0 = off), repeat_penalty
    (1 = off), repeat_last_n (-1 = all), seed, max_tokens, chat (wrap in the model's chat format).
    Defaults: cuda_default_sampling_params()."""
    temperature: float = None
    top_k: int = None
    top_p: float = None
    min_p: float = None
    repeat_penalty: float = None
    repeat_last_n: int = None
    seed: int = None
    max_tokens: int = None
    chat: bool = None

    def __post_init__(self):
        defaults = _library.library().cuda_default_sampling_params()
        for field in dataclasses.fields(self):
            if getattr(self, field.name) is None:
                setattr(self, field.name, getattr(defaults, field.name))
        self.chat = bool(self.chat)

    @classmethod
    def greedy(cls, max_tokens, **overrides):
        return cls(temperature=0.0, max_tokens=max_tokens, **overrides)

    def to_raw(self):
        return _raw.lw_sampling_params(self.temperature, self.top_k, self.top_p, self.min_p, self.repeat_penalty,
                                       self.repeat_last_n, self.seed, self.max_tokens, int(self.chat))
