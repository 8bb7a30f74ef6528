#!/usr/bin/env python3
"""check_exports.py LIBRARY HEADER: libllama_worker.so exports exactly the functions the C API
header declares (nm -D --defined-only), its soname carries LW_API_VERSION, and it needs no C++
runtime (libstdc++, libgcc_s are linked in and hidden). Exit 0 when all hold, 1 otherwise."""
import re
import subprocess
import sys


def declared_functions(header_text):
    text = re.sub(r"/\*.*?\*/", " ", header_text, flags=re.S)
    return set(re.findall(r"\b(cuda_\w+)\s*\(", text))


def exported_symbols(library):
    output = subprocess.run(["nm", "-D", "--defined-only", library], check=True, capture_output=True, text=True).stdout
    symbols = {}
    for line in output.splitlines():
        fields = line.split()
        if len(fields) == 3:
            symbols[fields[2].split("@")[0]] = fields[1]
    return symbols


def dynamic_section(library):
    return subprocess.run(["readelf", "-d", library], check=True, capture_output=True, text=True).stdout


def main():
    library, header = sys.argv[1], sys.argv[2]
    header_text = open(header, encoding="utf-8").read()
    declared = declared_functions(header_text)
    symbols = exported_symbols(library)
    # The version node (LLAMA_WORKER_1) shows up as an absolute symbol; it is not code.
    exported = {name for name, kind in symbols.items() if kind != "A"}
    problems = []
    for name in sorted(exported - declared):
        problems.append(f"exported but not declared in the header: {name} ({symbols[name]})")
    for name in sorted(declared - exported):
        problems.append(f"declared in the header but not exported: {name}")
    for name in sorted(exported & declared):
        if symbols[name] != "T":
            problems.append(f"{name} is exported as '{symbols[name]}', not as code ('T')")
    section = dynamic_section(library)
    api_version = re.search(r"#define LW_API_VERSION (\d+)", header_text).group(1)
    soname = re.search(r"\(SONAME\).*\[(.*)\]", section)
    if not soname or soname.group(1) != f"libllama_worker.so.{api_version}":
        problems.append(f"soname is {soname.group(1) if soname else 'missing'}, expected libllama_worker.so.{api_version}")
    needed = re.findall(r"\(NEEDED\).*\[(.*)\]", section)
    for library_needed in needed:
        if library_needed.startswith(("libstdc++", "libgcc_s")):
            problems.append(f"needs {library_needed}: the C++ runtime should be linked in statically")
    for problem in problems:
        print(f"error: {problem}")
    if problems:
        return 1
    print(f"{len(exported)} exported functions, exactly the header's; soname {soname.group(1)}; needs {', '.join(needed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
