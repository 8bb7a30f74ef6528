#!/usr/bin/env python3
"""Writes the quantization goldens in golden/quant/ from an independent oracle: the `gguf`
Python package (gguf.quants, numpy) that ships with llama.cpp. Our C++ code is never run here.

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install gguf numpy
    /tmp/venv/bin/python golden/quant/make_quant_goldens.py          # rewrites golden/quant/*.bin

Each .bin file: magic b"LWQG", uint32 header length, a UTF-8 JSON header, then the sections the
header lists in order ("sections": [{"name", "bytes"}]). Header fields: format_version, oracle,
oracle_version, numpy_version, kind, type, seed, input_sha256 (of the "input" section),
tolerance. Kinds:
  dequantize  input = random blocks of `type`, expected = float32 LE from gguf.quants.dequantize
  quantize    input = float32 LE, expected = blocks from gguf.quants.quantize (types the package
              quantizes bit-exactly like ggml's reference: BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0)
  f32_to_f16  input = float32 LE (random bit patterns and edge cases), expected = numpy float16
type_sizes.json: (block elements, block bytes) of every type the package knows, to verify
engine/gguf/tensor_type.cpp.
"""
import hashlib
import json
import struct
import sys
from importlib.metadata import version
from pathlib import Path

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from gguf.quants import dequantize, quantize

FORMAT_VERSION = 1
OUT = Path(__file__).resolve().parent
SEED = 20261126

# Byte offsets of the fp16 scale fields inside one block (ggml-common.h). Random bytes there
# would give NaN/Inf scales; they are replaced by finite scales instead.
SCALE_OFFSETS = {
    T.Q4_0: [0], T.Q4_1: [0, 2], T.Q5_0: [0], T.Q5_1: [0, 2], T.Q8_0: [0],
    T.Q2_K: [80, 82], T.Q3_K: [108], T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208],
}
BLOCKS = {32: 64, 256: 32}


def write_golden(name, header, sections):
    header = dict(header)
    header["format_version"] = FORMAT_VERSION
    header["oracle"] = "gguf (Python package, gguf.quants) with numpy"
    header["oracle_version"] = version("gguf")
    header["numpy_version"] = np.__version__
    header["input_sha256"] = hashlib.sha256(sections[0][1]).hexdigest()
    header["sections"] = [{"name": n, "bytes": len(b)} for n, b in sections]
    text = json.dumps(header, indent=1, sort_keys=True).encode()
    with open(OUT / name, "wb") as f:
        f.write(b"LWQG" + struct.pack("<I", len(text)) + text)
        for _, payload in sections:
            f.write(payload)
    print(f"wrote {name}: {header['input_sha256'][:16]}...", file=sys.stderr)


def sane_scales(rng, count):
    """Finite fp16 scales: mostly 1e-4..4 in magnitude with random sign, plus zero and subnormals."""
    mags = np.exp(rng.uniform(np.log(1e-4), np.log(4.0), count)).astype(np.float16)
    signs = np.where(rng.random(count) < 0.5, -1, 1).astype(np.float16)
    scales = mags * signs
    scales[0] = 0.0
    if count > 2:
        scales[1] = np.uint16(0x0001).view(np.float16)  # smallest subnormal
        scales[2] = np.uint16(0x83ff).view(np.float16)  # largest negative subnormal
    return scales


def dequant_goldens(rng):
    for qtype, offsets in SCALE_OFFSETS.items():
        block_elements, block_bytes = gguf.GGML_QUANT_SIZES[qtype]
        n = BLOCKS[block_elements]
        blocks = rng.integers(0, 256, size=(n, block_bytes), dtype=np.uint8)
        for off in offsets:
            blocks[:, off:off + 2] = sane_scales(rng, n).view(np.uint8).reshape(n, 2)
        data = blocks.reshape(-1)
        out = dequantize(data, qtype).astype("<f4").reshape(-1)
        assert out.size == n * block_elements and np.all(np.isfinite(out))
        write_golden(f"dequantize_{qtype.name}.bin",
                     {"kind": "dequantize", "type": qtype.name, "type_id": int(qtype), "seed": SEED,
                      "blocks": n, "tolerance": "exact (bitwise float32)"},
                     [("input", data.tobytes()), ("expected", out.tobytes())])

    # F16: all 65,536 bit patterns, NaNs included (numpy widens them keeping the payload).
    halves = np.arange(65536, dtype=np.uint16)
    widened = dequantize(halves.view(np.uint8), T.F16).astype("<f4")
    write_golden("dequantize_F16.bin",
                 {"kind": "dequantize", "type": "F16", "type_id": int(T.F16), "seed": 0, "blocks": 65536,
                  "tolerance": "exact (bitwise float32), every fp16 bit pattern"},
                 [("input", halves.astype("<u2").tobytes()), ("expected", widened.tobytes())])

    # BF16: all 65,536 bit patterns.
    widened = dequantize(halves.view(np.uint8), T.BF16).astype("<f4")
    write_golden("dequantize_BF16.bin",
                 {"kind": "dequantize", "type": "BF16", "type_id": int(T.BF16), "seed": 0, "blocks": 65536,
                  "tolerance": "exact (bitwise float32), every bf16 bit pattern"},
                 [("input", halves.astype("<u2").tobytes()), ("expected", widened.tobytes())])


def edge_floats():
    """Float32 bit patterns around every fp16/bf16 rounding boundary worth pinning."""
    bits = [0x00000000, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00001, 0x7f800001,
            0x7fa00000, 0xff812345, 0x7f7fffff, 0x00000001, 0x007fffff, 0x00800000]
    for base in [65504.0, 65519.0, 65520.0, 65536.0, 2.0**-14, 2.0**-24, 2.0**-25, 2.0**-26, 1.0, 3.0**-8,
                 1.5 * 2.0**-24, 2.5 * 2.0**-24, 1.0 + 2.0**-11, 1.0 + 3 * 2.0**-11, 3.3895313892515355e38]:
        b = int(np.array(base, dtype=np.float32).view(np.uint32))
        for delta in (-2, -1, 0, 1, 2):
            for sign in (0, 0x80000000):
                bits.append(((b + delta) & 0x7fffffff) | sign)
    return np.array(bits, dtype=np.uint32)


def conversion_goldens(rng):
    random_bits = rng.integers(0, 2**32, size=8192, dtype=np.uint64).astype(np.uint32)
    # Uniformly random bit patterns are mostly huge or tiny; add values in the fp16 range too.
    in_range = rng.uniform(-70000.0, 70000.0, 4096).astype(np.float32).view(np.uint32)
    small = (rng.standard_normal(4096) * 1e-5).astype(np.float32).view(np.uint32)
    bits = np.concatenate([edge_floats(), random_bits, in_range, small]).astype("<u4")
    values = bits.view(np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        halves = values.astype(np.float16).view(np.uint16).astype("<u2")
    write_golden("f32_to_f16.bin",
                 {"kind": "f32_to_f16", "type": "F16", "seed": SEED, "count": int(bits.size),
                  "tolerance": "exact (bitwise fp16), numpy's astype(float16)"},
                 [("input", bits.tobytes()), ("expected", halves.tobytes())])
    bf16 = quantize(values, T.BF16).view("<u2")
    write_golden("quantize_BF16.bin",
                 {"kind": "quantize", "type": "BF16", "type_id": int(T.BF16), "seed": SEED, "count": int(bits.size),
                  "tolerance": "exact (bitwise bf16), gguf.quants BF16 = ggml_compute_fp32_to_bf16"},
                 [("input", bits.tobytes()), ("expected", bf16.tobytes())])


def quantize_goldens(rng):
    for qtype in (T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0):
        rows = []
        rows.append(rng.standard_normal(32 * 48).astype(np.float32))
        rows.append((rng.standard_normal(32 * 8) * 300).astype(np.float32))
        rows.append(rng.uniform(0.5, 2.0, 32 * 4).astype(np.float32))     # all positive
        rows.append(rng.uniform(-2.0, -0.5, 32 * 4).astype(np.float32))   # all negative
        rows.append(np.zeros(32 * 2, dtype=np.float32))                   # zero blocks
        ties = np.tile(np.array([1.0, -1.0, 0.5, -0.5, 0.25], dtype=np.float32), 32 * 4)[:32 * 4]
        rows.append(ties)
        values = np.concatenate(rows).astype("<f4")
        blocks = quantize(values, qtype).reshape(-1)
        write_golden(f"quantize_{qtype.name}.bin",
                     {"kind": "quantize", "type": qtype.name, "type_id": int(qtype), "seed": SEED,
                      "count": int(values.size), "tolerance": "exact (bitwise blocks), ggml reference quantizer"},
                     [("input", values.tobytes()), ("expected", blocks.tobytes())])


def type_sizes():
    sizes = {t.name: {"id": int(t), "block_elements": s[0], "block_bytes": s[1]}
             for t, s in gguf.GGML_QUANT_SIZES.items()}
    doc = {"format_version": FORMAT_VERSION, "oracle": "gguf.GGML_QUANT_SIZES", "oracle_version": version("gguf"),
           "tolerance": "exact", "types": sizes}
    (OUT / "type_sizes.json").write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")


def main():
    rng = np.random.default_rng(SEED)
    dequant_goldens(rng)
    conversion_goldens(rng)
    quantize_goldens(rng)
    type_sizes()


if __name__ == "__main__":
    main()
