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
  gpt-2, llama-spm        transformers' GGUF tokenizer conversion (extra coverage); llama-spm through
                          the phi3 builder (dummy prefix on every segment, like Llama's legacy
                          tokenizer.json and llama.cpp's vectors)
The GGUF metadata is read with the `gguf` package (transformers' own GGUF reader needs torch).

Output: <vocab>.golden.json with a header: format_version, oracle name and versions, SHA-256 of
the corpus and of the tokenizer source file. CI never runs this script; it only compares.

Usage: python3 make_goldens.py [VOCAB_DIR]   (default: ../../conformance/data/vocab)
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


def encode(tokenizer, text, parse_special):
    tokenizer.encode_special_tokens = not parse_special
    return tokenizer.encode(text, add_special_tokens=False).ids


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
    ]
    for vocab, source, build in jobs:
        source_path = os.path.join(vocab_dir, source)
        tokenizer, how = build(source_path)
        cases = []
        for text in texts:
            plain = encode(tokenizer, text, False)
            special = encode(tokenizer, text, True)
            decoded = tokenizer.decode(plain, skip_special_tokens=False)
            case = {"text": text, "plain": plain, "decoded": decoded}
            if special != plain:
                case["special"] = special
            cases.append(case)
        golden = {
            "format_version": 1,
            "vocabulary": vocab + ".vocab.gguf",
            "oracle": {"name": "huggingface tokenizers", "how": how, "tokenizers_version": tokenizers.__version__,
                       "transformers_version": transformers.__version__, "gguf_version": getattr(gguf, "__version__", "0.19.0")},
            "source_file": source,
            "source_sha256": sha256(source_path),
            "corpus_sha256": sha256(corpus_path),
            "notes": "plain: special parsing off (encode_special_tokens=True); special: present only when it "
                     "differs, parsing on; decoded: decode(plain, skip_special_tokens=False); no BOS/EOS",
            "cases": cases,
        }
        out = os.path.join(HERE, vocab + ".golden.json")
        with open(out, "w", encoding="utf-8") as f:
            json.dump(golden, f, ensure_ascii=True, separators=(",", ":"))
            f.write("\n")
        print(f"{out}: {len(cases)} cases")


if __name__ == "__main__":
    main()
