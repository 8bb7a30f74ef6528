#!/usr/bin/env python3
"""Independent oracle for the GGUF reader: dumps the vocab files' metadata with the `gguf`
Python package (llama.cpp's gguf-py GGUFReader) into vocab_metadata.json.

For every key: its GGUF type (and element type and count for arrays), the value for scalars,
and for arrays the first and last 3 elements. The header records the format version, the
oracle's name and version, and each input file's SHA-256 (so that a failure can be told apart
from a changed input: compare `sha256sum` of the file with the recorded one).

    python3 engine/gguf/tests/golden/make_vocab_golden.py ../shared/data/vocab engine/gguf/tests/golden/vocab_metadata.json
"""
import hashlib
import json
import math
import pathlib
import sys
from importlib.metadata import version

import gguf
from gguf import GGUFReader, GGUFValueType

TYPE_NAMES = {
    GGUFValueType.UINT8: "u8", GGUFValueType.INT8: "i8", GGUFValueType.UINT16: "u16",
    GGUFValueType.INT16: "i16", GGUFValueType.UINT32: "u32", GGUFValueType.INT32: "i32",
    GGUFValueType.FLOAT32: "f32", GGUFValueType.BOOL: "bool", GGUFValueType.STRING: "str",
    GGUFValueType.ARRAY: "arr", GGUFValueType.UINT64: "u64", GGUFValueType.INT64: "i64",
    GGUFValueType.FLOAT64: "f64",
}


def element(field, index, element_type):
    part = field.parts[field.data[index]]
    if element_type == GGUFValueType.STRING:
        return bytes(part).decode("utf-8", errors="surrogateescape").encode("utf-8", errors="surrogateescape").hex()
    value = part.tolist()[0]
    if element_type == GGUFValueType.BOOL:
        return bool(value)
    if isinstance(value, float):
        return repr(value) if not math.isfinite(value) else value
    return value


def dump(path):
    reader = GGUFReader(path)
    entries = []
    for field in reader.fields.values():
        if field.name.startswith("GGUF."):
            continue  # the reader's pseudo-fields for the header
        kind = field.types[0]
        entry = {"key": field.name, "type": TYPE_NAMES[kind]}
        if kind == GGUFValueType.ARRAY:
            element_type = field.types[1] if len(field.types) > 1 else GGUFValueType.UINT8
            count = len(field.data)
            entry["element_type"] = TYPE_NAMES[element_type]
            entry["count"] = count
            head = list(range(min(3, count)))
            tail = list(range(max(3, count - 3), count))
            entry["head"] = [element(field, i, element_type) for i in head]
            entry["tail"] = [element(field, i, element_type) for i in tail]
        else:
            entry["value"] = element(field, 0, kind)
        entries.append(entry)
    return {"tensor_count": len(reader.tensors), "metadata": entries}


def main():
    vocab_dir = pathlib.Path(sys.argv[1])
    out = pathlib.Path(sys.argv[2])
    files = {}
    for path in sorted(vocab_dir.glob("*.gguf")):
        data = path.read_bytes()
        files[path.name] = {"sha256": hashlib.sha256(data).hexdigest(), **dump(str(path))}
    golden = {
        "format_version": 1,
        "oracle": "gguf-py GGUFReader",
        "oracle_version": version("gguf"),
        "note": "strings are hex of their UTF-8 bytes; tolerances: exact",
        "files": files,
    }
    out.write_text(json.dumps(golden, indent=1, ensure_ascii=True) + "\n")


if __name__ == "__main__":
    main()
