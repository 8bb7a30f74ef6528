"""_raw.py and engine/include/llama_worker.h declare the same functions (names, argument and
result types), structs (fields, types, array sizes), enum values and constants. The header is
parsed here; each C type is mapped to the ctypes type _raw.py must use."""
import ctypes
import os
import re

import pytest

from llama_worker import _raw

HEADER = os.environ.get("LLAMA_WORKER_HEADER") or os.path.join(
    os.path.dirname(__file__), "..", "..", "..", "engine", "include", "llama_worker.h")

BASE_TYPES = {
    "int32_t": ctypes.c_int32, "int64_t": ctypes.c_int64, "uint64_t": ctypes.c_uint64, "size_t": ctypes.c_size_t,
    "float": ctypes.c_float, "double": ctypes.c_double, "char": ctypes.c_char,
}


@pytest.fixture(scope="module")
def header():
    if not os.path.isfile(HEADER):
        pytest.skip(f"the header {HEADER} is missing (set LLAMA_WORKER_HEADER)")
    text = open(HEADER, encoding="utf-8").read()
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#") or "define" in line)


def ctype_of(c_type):
    """The ctypes type _raw.py uses for a C type ("const char**" -> POINTER(POINTER(c_char)))."""
    pointers = c_type.count("*")
    base = c_type.replace("*", " ").replace("const", " ").split()[0]
    if base in _raw.HANDLE_TYPES:
        assert pointers >= 1
        return ctypes.c_void_p if pointers == 1 else ctypes.POINTER(ctypes.c_void_p)
    if base == "char" and pointers == 1:
        return ctypes.c_char_p
    result = _raw.ENUM_TYPES.get(base) or _raw.STRUCTS.get(base) or BASE_TYPES[base]
    for _ in range(pointers):
        result = ctypes.POINTER(result)
    return result


def split_declaration(declaration):
    declaration = " ".join(declaration.split())
    match = re.fullmatch(r"(.*?)\s*\b(\w+)", declaration)
    return match.group(2), match.group(1)


def test_functions_match_the_header(header):
    code = "\n".join(line for line in header.splitlines() if not line.lstrip().startswith("#") and 'extern "C"' not in line)
    declared = {}
    for statement in code.split(";"):
        statement = " ".join(statement.split())
        match = re.search(r"([\w\s\*]*?\b(cuda_\w+))\s*\((.*)\)$", statement)
        if not match:
            continue
        name, result = split_declaration(match.group(1))
        arguments = [] if match.group(3).strip() == "void" else [ctype_of(split_declaration(a)[1]) for a in match.group(3).split(",")]
        declared[name] = (ctype_of(result), arguments)
    assert len(declared) >= 18, sorted(declared)
    assert {name: (r, list(a)) for name, (r, a) in _raw.FUNCTIONS.items()} == declared


def test_structs_match_the_header(header):
    declared = {}
    for name, body in re.findall(r"typedef struct (\w+) \{(.*?)\}", header, flags=re.S):
        fields = []
        for field in filter(None, (" ".join(f.split()) for f in body.split(";"))):
            array = re.fullmatch(r"(.*)\[(\d+)\]", field)
            field_name, field_type = split_declaration(array.group(1) if array else field)
            field_type = ctype_of(field_type)
            fields.append((field_name, field_type * int(array.group(2)) if array else field_type))
        declared[name] = fields
    assert len(declared) == 5, sorted(declared)
    ours = {name: structure._fields_ for name, structure in _raw.STRUCTS.items()}
    # Array types are made anew each time: compare them by element type and length.
    def normal(fields):
        return [(n, (t._type_, t._length_) if issubclass(t, ctypes.Array) else t) for n, t in fields]
    assert {n: normal(f) for n, f in ours.items()} == {n: normal(f) for n, f in declared.items()}
    for name, structure in _raw.STRUCTS.items():
        assert ctypes.sizeof(structure) > 0, name


def test_constants_and_enum_values_match_the_header(header):
    declared = {name: int(value) for name, value in re.findall(r"#define (LW_\w+) \(?(-?\d+)\)?", header)}
    for body in re.findall(r"typedef enum \w+ \{(.*?)\}", header, flags=re.S):
        declared.update({name: int(value) for name, value in re.findall(r"(LW_\w+)\s*=\s*(-?\d+)", body)})
    assert "LW_STATUS_INTERNAL" in declared and "LW_DEVICE_CPU" in declared
    ours = {name: value for name, value in vars(_raw).items() if name.startswith("LW_")}
    assert ours == declared
    assert sorted(_raw.ENUM_TYPES) == sorted(re.findall(r"typedef enum \w+ \{.*?\} (\w+);", header, flags=re.S))
