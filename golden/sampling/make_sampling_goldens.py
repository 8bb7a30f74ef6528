#!/usr/bin/env python3
"""Pinned sampling sequences from an independent reimplementation of the sampler's definition
(engine/sampling/README.md), written from the specification, not from our C++:

  generator: xoshiro256** with its state filled by splitmix64(seed); unit double = (x >> 11) * 2^-53
  pipeline:  repetition penalty (distinct ids among the last n history tokens: v/p if v > 0 else v*p)
             -> temperature 0: argmax, lowest id on ties, no random draw
             -> v / T, order by (v desc, id asc) -> top-k -> softmax (math.exp, float64)
             -> top-p: keep i while the mass before it < top_p -> min-p: keep w >= min_p * w_max
             -> u = unit * kept mass; first candidate whose running mass exceeds u

    python3 golden/sampling/make_sampling_goldens.py    # needs numpy; rewrites sequences.json

Each step's logits are random float32 (stored as bit patterns); the sampled token is appended to
the history. The script records, per case, the smallest distance between u and a candidate
boundary relative to the mass, and refuses cases where it is below 1e-9, so an ulp-level
difference between exp implementations cannot change a pinned token.
"""
import json
import math
from importlib.metadata import version
from pathlib import Path

import numpy as np

MASK = (1 << 64) - 1
OUT = Path(__file__).resolve().parent / "sequences.json"


def rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & MASK


class Xoshiro:
    def __init__(self, seed):
        self.s = []
        state = seed & MASK
        for _ in range(4):
            state = (state + 0x9E3779B97F4A7C15) & MASK
            z = state
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
            self.s.append(z ^ (z >> 31))

    def next(self):
        s = self.s
        result = (rotl((s[1] * 5) & MASK, 7) * 9) & MASK
        t = (s[1] << 17) & MASK
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
        return result

    def unit(self):
        return (self.next() >> 11) * 2.0 ** -53


def f32(x):
    return float(np.float32(x))


def sample(logits, p, history, gen):
    values = [float(v) for v in logits]
    if p["repetition_penalty"] != 1.0 and p["repeat_last_n"] != 0:
        window = history if p["repeat_last_n"] < 0 else history[max(0, len(history) - p["repeat_last_n"]):]
        for tid in set(window):
            v = values[tid]
            values[tid] = v / p["repetition_penalty"] if v > 0 else v * p["repetition_penalty"]
    if p["temperature"] == 0.0:
        best = max(range(len(values)), key=lambda i: (values[i], -i))
        return best, None
    scaled = [(v / p["temperature"], i) for i, v in enumerate(values)]
    order = sorted(scaled, key=lambda t: (-t[0], t[1]))
    if p["top_k"] > 0:
        order = order[:p["top_k"]]
    top = order[0][0]
    weights = [math.exp(v - top) for v, _ in order]
    total = sum(weights)
    if p["top_p"] < 1.0:
        kept, before = 0, 0.0
        while kept < len(order) and before < p["top_p"]:
            before += weights[kept] / total
            kept += 1
        order, weights = order[:kept], weights[:kept]
    if p["min_p"] > 0.0:
        threshold = p["min_p"] * weights[0]
        kept = 1
        while kept < len(order) and weights[kept] >= threshold:
            kept += 1
        order, weights = order[:kept], weights[:kept]
    mass = sum(weights)
    u = gen.unit() * mass
    running = 0.0
    margin = math.inf
    chosen = order[-1][1]
    found = False
    for (_, tid), w in zip(order, weights):
        running += w
        margin = min(margin, abs(running - u) / mass)
        if not found and u < running:
            chosen, found = tid, True
    return chosen, margin


def params(temperature, top_k=0, top_p=1.0, min_p=0.0, repetition_penalty=1.0, repeat_last_n=64, seed=0):
    return {"temperature": f32(temperature), "top_k": top_k, "top_p": f32(top_p), "min_p": f32(min_p),
            "repetition_penalty": f32(repetition_penalty), "repeat_last_n": repeat_last_n, "seed": seed}


CASES = [
    ("greedy", 50, params(0.0, seed=1)),
    ("greedy_with_penalty", 50, params(0.0, repetition_penalty=1.5, repeat_last_n=8, seed=1)),
    ("temperature_1", 50, params(1.0, seed=7)),
    ("temperature_0_7", 50, params(0.7, seed=123456789)),
    ("hot_2_5", 256, params(2.5, seed=99)),
    ("top_k_5", 50, params(0.9, top_k=5, seed=3)),
    ("top_p_0_8", 50, params(1.0, top_p=0.8, seed=4)),
    ("min_p_0_1", 50, params(1.0, min_p=0.1, seed=5)),
    ("all_filters", 256, params(0.8, top_k=40, top_p=0.95, min_p=0.05, seed=2026)),
    ("penalty_1_3_last_8", 8, params(1.0, repetition_penalty=1.3, repeat_last_n=8, seed=11)),
    ("penalty_0_7_whole_history", 50, params(1.2, repetition_penalty=0.7, repeat_last_n=-1, seed=12)),
    ("big_seed", 50, params(1.0, top_k=10, seed=(1 << 64) - 1)),
]
STEPS = 24


def main():
    rng = np.random.default_rng(424242)
    doc = {"format_version": 1, "oracle": "golden/sampling/make_sampling_goldens.py (Python reimplementation)",
           "oracle_version": f"python {'.'.join(map(str, __import__('sys').version_info[:3]))}, numpy {version('numpy')}",
           "tolerance": "exact token ids", "generator": [], "cases": []}
    for seed in (0, 1, 42, (1 << 64) - 1):
        gen = Xoshiro(seed)
        doc["generator"].append({"seed": str(seed), "u64": [str(gen.next()) for _ in range(8)],
                                 "unit_double_bits": [str(np.float64(gen.unit()).view(np.uint64)) for _ in range(4)]})
    for name, vocab, p in CASES:
        while True:
            gen = Xoshiro(p["seed"])
            history = [int(t) for t in rng.integers(0, vocab, 6)]
            prompt = list(history)
            steps, tokens, min_margin = [], [], math.inf
            for _ in range(STEPS):
                logits = (rng.standard_normal(vocab) * 3.0).astype(np.float32)
                logits[rng.integers(0, vocab)] = logits.max()  # a tie for the top spot
                token, margin = sample(logits, p, history, gen)
                if margin is not None:
                    min_margin = min(min_margin, margin)
                steps.append([int(b) for b in logits.view(np.uint32)])
                tokens.append(token)
                history.append(token)
            if min_margin > 1e-9:
                break
        case = dict(p)
        case["seed"] = str(p["seed"])
        doc["cases"].append({"name": name, "vocab": vocab, "params": case, "prompt": prompt,
                             "logits_bits": steps, "expected_tokens": tokens,
                             "min_relative_margin": None if math.isinf(min_margin) else min_margin})
    OUT.write_text(json.dumps(doc, separators=(",", ":")) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
