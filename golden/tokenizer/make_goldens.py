#!/usr/bin/env python3
"""Regenerates the tokenizer goldens from independent oracles (never from our code).

For each vocabulary, every string of corpus.json is encoded twice by a Hugging Face tokenizer
(no BOS/EOS): "plain" with special-token parsing off (tokenizers' encode_special_tokens = True:
control tokens are text, added non-special tokens still match) and "special" with it on (the
Hugging Face default). The decoded text of the plain ids is recorded too.

Oracles:
  qwen2.5-0.5b-instruct   tokenizers.Tokenizer from qwen2.5-tokenizer.json.gz (Qwen's own file)
  phi-3-mini-4k-instruct  transformers' GGUF tokenizer conversion (convert_gguf_tokenizer) of the
                          .vocab.gguf; its added-token table is then made to follow the GGUF token
                          types (user-defined = not special) and given the rstrip flag Phi-3's
                          tokenizer.json sets on its special tokens (a GGUF does not carry it)
  qwen2.5-...@PRE         Qwen's tokenizer.json with the pre-tokenizer swapped for llama-bpe (Llama 3's
                          Split + ignore_merges), smollm (SmolLM's Digits + ByteLevel) and default
                          (llama.cpp's regex list as Split steps), NFC removed: the other
                          pre-tokenizers run by Hugging Face on a real vocabulary
  gpt-2, llama-spm        transformers' GGUF tokenizer conversion (extra coverage); llama-spm through
                          the phi3 builder (dummy prefix on every segment, like Llama's legacy
                          tokenizer.json and llama.cpp's vectors)
  smollm2-135m-instruct   transformers' GGUF tokenizer conversion of the real model file
                          (ci/fetch-smollm2-135m-instruct.sh; skipped when not fetched), with the
                          pre-tokenizer set to SmolLM's own (Digits + ByteLevel, as in its
                          tokenizer.json): the conversion ignores tokenizer.ggml.pre. Its vocabulary
                          lacks 21 byte-alphabet tokens, so its golden also has "extra_cases":
                          strings with the bytes it has no token for (0x04 ... and the lead bytes
                          0xF1/0xF2 of U+40000..U+BFFFF), which Hugging Face drops.
The GGUF metadata is read with the `gguf` package (transformers' own GGUF reader needs torch).

Output: <vocab>.golden.json with a header: format_version, oracle name and versions, SHA-256 of
the corpus and of the tokenizer source file. CI never runs this script; it only compares.

Usage: python3 make_goldens.py [VOCAB_DIR]   (default: ../../conformance/data/vocab)
       SmolLM2 is read from $LLAMA_WORKER_CACHE (default ~/.cache/llama-worker)/models/.
Needs: pip install tokenizers transformers gguf
"""
import gzip
import hashlib
import json
import os
import sys

import gguf
import tokenizers
import transformers
from tokenizers import AddedToken, Tokenizer

HERE = os.path.dirname(os.path.abspath(__file__))


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def gguf_tokenizer_dict(path):
    """The dict transformers' get_gguf_tokenizer builds, from the gguf package's reader."""
    reader = gguf.GGUFReader(path)

    def field(key):
        f = reader.fields.get(key)
        if f is None:
            return None
        if f.types[0] == gguf.GGUFValueType.ARRAY:
            if f.types[-1] == gguf.GGUFValueType.STRING:
                return [bytes(f.parts[i]).decode("utf-8") for i in f.data]
            return [f.parts[i][0].item() for i in f.data]
        if f.types[0] == gguf.GGUFValueType.STRING:
            return bytes(f.parts[f.data[0]]).decode("utf-8")
        return f.parts[f.data[0]][0].item()

    architecture = field("general.architecture")
    d = {}
    for key, name in [("model", "tokenizer_type"), ("pre", "pre_tokenizer_type"), ("tokens", "tokens"),
                      ("scores", "scores"), ("token_type", "token_type"), ("merges", "merges"),
                      ("bos_token_id", "bos_token_id"), ("eos_token_id", "eos_token_id"),
                      ("unknown_token_id", "unk_token_id"), ("padding_token_id", "pad_token_id")]:
        value = field("tokenizer.ggml." + key)
        if value is not None:
            d[name] = value
    return architecture, d, field("general.name") or ""


def from_gguf(path):
    from transformers.integrations.gguf.gguf_tokenizer_mapping import convert_gguf_tokenizer

    architecture, d, name = gguf_tokenizer_dict(path)
    if d.get("tokenizer_type") == "llama":
        # SentencePiece's add_dummy_prefix on every text segment (the legacy Llama tokenizer.json,
        # and what llama.cpp's llama-spm vectors encode) is transformers' phi3 builder; its llama
        # builder uses Metaspace(prepend_scheme="first"), the non-legacy behaviour.
        architecture = "phi3"
    tokenizer, _ = convert_gguf_tokenizer(architecture, d)
    # Make the added-token table say what the GGUF token types say (transformers'
    # add_gguf_special_tokens intends user-defined tokens to be plain added tokens, but
    # LlamaTokenizer registers </s> as its special EOS first) and restore Phi-3's rstrip flags.
    user_defined = {t for t, ty in zip(d["tokens"], d.get("token_type") or ()) if ty == 4}
    phi3 = "phi-3" in name.lower() or "phi3" in name.lower()
    config = json.loads(tokenizer.to_str())
    for added in config["added_tokens"]:
        content = added["content"]
        if content in user_defined:
            added["special"] = False
        if phi3 and (content not in ("<unk>", "<s>", "<|endoftext|>") or content == "</s>"):
            added["rstrip"] = True
    tokenizer = Tokenizer.from_str(json.dumps(config))
    return tokenizer, "transformers GGUF conversion (convert_gguf_tokenizer)"


def from_json_gz(path):
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return Tokenizer.from_str(f.read()), "tokenizers.Tokenizer.from_str(tokenizer.json)"


def from_gguf_smollm(path):
    # transformers' GGUF conversion builds a plain ByteLevel pre-tokenizer whatever
    # tokenizer.ggml.pre says; SmolLM's tokenizer.json isolates each digit first.
    tokenizer, _ = from_gguf(path)
    config = json.loads(tokenizer.to_str())
    config["pre_tokenizer"] = PRE_VARIANTS["smollm"][0]
    return (Tokenizer.from_str(json.dumps(config)),
            "transformers GGUF conversion (convert_gguf_tokenizer), pre-tokenizer set to SmolLM's "
            "(Digits individual + ByteLevel)")


# Strings with bytes that SmolLM2's vocabulary has no byte-alphabet token for: the control bytes
# 0x04 0x06 0x13 0x14 0x16 0x1D, and 0xF1/0xF2, the lead bytes of U+40000..U+BFFFF (0xC0, 0xC1,
# 0xF5..0xFF cannot occur in UTF-8). Next to letters, digits, punctuation, spaces, specials.
MISSING_BYTE_TEXTS = [
    "\x04", "\x06", "\x13", "\x14", "\x16", "\x1d", "\x04\x06\x13\x14\x16\x1d",
    "a\x04b", "Hello\x1dworld", "Hello \x1dworld", "Hello\x1d world", " \x04", "\x04 ", "  \x04  x",
    "!\x04!", "..\x06..", "?\x13?\x14?", "(\x16)", "--\x1d--", "!!\x04!!", "a!\x04!b",
    "12\x0434", "1\x06 2", "x\x04" "1", "don't\x04s", "'\x04s", "\n\x04\n", "\r\n\x1d\r\n", "\t\x04\t",
    "<|im_start|>\x04<|im_end|>", "<|im_start|>user\n\x1d<|im_end|>", "\x04<|endoftext|>\x04",
    "é\x04é", "日本\x13語", "😀\x04😀", "\U00040000", "a\U0008FFFFb", "x\U000BFFFD", "\U00050000 \U000A0000",
    "\U0003FFFF\U00040000\U000C0000", "\x04\U00040000\x04", "The \x04quick \x06brown\x13 fox\x14.\x16\x1d",
]


LLAMA3_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
                r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
GPT2_SPLIT_NO_TAIL = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)"


def split(pattern):
    return {"type": "Split", "pattern": {"Regex": pattern}, "behavior": "Isolated", "invert": False}


BYTE_LEVEL_NO_REGEX = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}

# Qwen's vocabulary and merges under the other pre-tokenizers we support, shaped as the models'
# own tokenizer.json files are (Llama 3: Split + ignore_merges; SmolLM: Digits + ByteLevel regex)
# or, for llama.cpp's "default" list, as the same regexes in Hugging Face Split steps. No NFC.
PRE_VARIANTS = {
    "llama-bpe": ({"type": "Sequence", "pretokenizers": [split(LLAMA3_SPLIT), BYTE_LEVEL_NO_REGEX]}, True),
    "smollm": ({"type": "Sequence", "pretokenizers": [
        {"type": "Digits", "individual_digits": True},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}]}, False),
    "default": ({"type": "Sequence", "pretokenizers": [
        split(r"[\p{P}\$\+<=>\^~\|]+"), split(GPT2_SPLIT_NO_TAIL), split(r"\p{N}+"), split(r"[0-9][0-9][0-9]"),
        BYTE_LEVEL_NO_REGEX]}, False),
}


def qwen_with_pre(pre):
    def build(path):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            config = json.load(f)
        pre_tokenizer, ignore_merges = PRE_VARIANTS[pre]
        config["normalizer"] = None
        config["pre_tokenizer"] = pre_tokenizer
        config["model"]["ignore_merges"] = ignore_merges
        return Tokenizer.from_str(json.dumps(config)), f"tokenizers, Qwen's tokenizer.json with the {pre} pre-tokenizer"
    return build


def encode(tokenizer, text, parse_special):
    tokenizer.encode_special_tokens = not parse_special
    return tokenizer.encode(text, add_special_tokens=False).ids


def cache_dir():
    return os.environ.get("LLAMA_WORKER_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "llama-worker")


def main():
    vocab_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "conformance", "data", "vocab")
    corpus_path = os.path.join(HERE, "corpus.json")
    with open(corpus_path, encoding="utf-8") as f:
        texts = json.load(f)["texts"]
    jobs = [
        ("qwen2.5-0.5b-instruct", "qwen2.5-tokenizer.json.gz", from_json_gz),
        ("phi-3-mini-4k-instruct", "phi-3-mini-4k-instruct.vocab.gguf", from_gguf),
        ("gpt-2", "gpt-2.vocab.gguf", from_gguf),
        ("llama-spm", "llama-spm.vocab.gguf", from_gguf),
    ] + [("qwen2.5-0.5b-instruct@" + pre, "qwen2.5-tokenizer.json.gz", qwen_with_pre(pre)) for pre in PRE_VARIANTS]
    jobs = [(vocab, os.path.join(vocab_dir, source), build, None) for vocab, source, build in jobs]
    smollm2 = os.path.join(cache_dir(), "models", "smollm2-135m-instruct-q4_1.gguf")
    if os.path.exists(smollm2):
        jobs.append(("smollm2-135m-instruct", smollm2, from_gguf_smollm, MISSING_BYTE_TEXTS))
    else:
        print(f"skipping smollm2-135m-instruct: {smollm2} not fetched (ci/fetch-smollm2-135m-instruct.sh)")

    def run(tokenizer, strings):
        cases = []
        for text in strings:
            plain = encode(tokenizer, text, False)
            special = encode(tokenizer, text, True)
            decoded = tokenizer.decode(plain, skip_special_tokens=False)
            case = {"text": text, "plain": plain, "decoded": decoded}
            if special != plain:
                case["special"] = special
            cases.append(case)
        return cases

    for vocab, source_path, build, extra_texts in jobs:
        source = os.path.basename(source_path)
        tokenizer, how = build(source_path)
        cases = run(tokenizer, texts)
        golden = {
            "format_version": 1,
            "vocabulary": source if extra_texts is not None else vocab.split("@")[0] + ".vocab.gguf",
            "pre_tokenizer_override": vocab.split("@")[1] if "@" in vocab else None,
            "oracle": {"name": "huggingface tokenizers", "how": how, "tokenizers_version": tokenizers.__version__,
                       "transformers_version": transformers.__version__, "gguf_version": getattr(gguf, "__version__", "0.19.0")},
            "source_file": source,
            "source_sha256": sha256(source_path),
            "corpus_sha256": sha256(corpus_path),
            "notes": "plain: special parsing off (encode_special_tokens=True); special: present only when it "
                     "differs, parsing on; decoded: decode(plain, skip_special_tokens=False); no BOS/EOS",
            "cases": cases,
        }
        if extra_texts is not None:
            golden["extra_cases"] = run(tokenizer, extra_texts)
        out = os.path.join(HERE, vocab + ".golden.json")
        with open(out, "w", encoding="utf-8") as f:
            json.dump(golden, f, ensure_ascii=True, separators=(",", ":"))
            f.write("\n")
        print(f"{out}: {len(cases)} cases")


if __name__ == "__main__":
    main()
