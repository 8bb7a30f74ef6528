"""Finds and loads libllama_worker.so (once per process).

Search order:
  1. LLAMA_WORKER_LIBRARY: the path of the library file itself;
  2. LLAMA_WORKER_LIB_DIR: a folder holding libllama_worker.so.<N> (an install's lib folder, or
     a build tree's lib/);
  3. `pkg-config --variable=libdir llama_worker` (PKG_CONFIG_PATH for a prefix of your own);
  4. the dynamic loader's own search (LD_LIBRARY_PATH, ld.so.cache: an install under /usr/local
     after ldconfig, or /usr).
"""
import ctypes
import os
import subprocess
import threading

from . import _raw

SONAME = f"libllama_worker.so.{_raw.LW_API_VERSION}"

_lock = threading.Lock()
_library = None


def _candidates():
    path = os.environ.get("LLAMA_WORKER_LIBRARY")
    if path:
        yield path
        return
    directory = os.environ.get("LLAMA_WORKER_LIB_DIR")
    if directory:
        yield os.path.join(directory, SONAME)
        return
    try:
        libdir = subprocess.run(["pkg-config", "--variable=libdir", "llama_worker"], capture_output=True,
                                text=True, check=True).stdout.strip()
        if libdir and os.path.exists(os.path.join(libdir, SONAME)):
            yield os.path.join(libdir, SONAME)
    except (OSError, subprocess.CalledProcessError):
        pass
    yield SONAME


def library():
    """The loaded library with every function declared (raises OSError naming what was tried)."""
    global _library
    with _lock:
        if _library is None:
            tried = []
            for candidate in _candidates():
                try:
                    loaded = ctypes.CDLL(candidate)
                except OSError as error:
                    tried.append(f"{candidate}: {error}")
                    continue
                _raw.declare(loaded)
                version = loaded.cuda_api_version()
                if version != _raw.LW_API_VERSION:
                    raise OSError(f"{candidate} has API version {version}, this binding wants {_raw.LW_API_VERSION}")
                _library = loaded
                break
            else:
                raise OSError("libllama_worker.so not found (set LLAMA_WORKER_LIBRARY or LLAMA_WORKER_LIB_DIR; "
                              "see bindings/python/README.md); tried: " + "; ".join(tried))
        return _library
