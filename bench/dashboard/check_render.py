#!/usr/bin/env python3
"""Manual check that the dashboard page renders in headless Chromium (not run by CI).

  check_render.py INDEX_HTML [--chromium chromium] [--out DIR] [--size 1400,2000]

Runs Chromium twice on file://INDEX_HTML, with the network resolver switched off
(--host-resolver-rules, so any network reference would fail rather than load):
  1. --screenshot: the PNG must exist and not be blank: at least 2% of its pixels not white, and
     both series colours of the charts (llama-worker blue, llama.cpp red) drawn exactly somewhere;
  2. --dump-dom: the DOM after load must hold as many <svg class="plot"> charts as the page's
     source (at least one), each with at least one data point (<circle class="point">).
Both runs log to stderr (--enable-logging=stderr): any console message (a script error, a failed
resource load, a CSP report; Chromium logs them as "CONSOLE") fails the check.
The screenshot and the DOM are kept in --out (default: beside INDEX_HTML, render-check/).
Exit status 0 when every check holds, 1 otherwise (each failure named), 2 when Chromium is missing.
Standard library only (the PNG is decoded here with zlib).
"""
import argparse
import os
import re
import shutil
import struct
import subprocess
import sys
import zlib

BLUE, RED = (0x1F, 0x6F, 0xB4), (0xD0, 0x45, 0x2F)  # make_dashboard.py's OURS_COLOR, PEER_COLOR


def decode_png(path):
    """(width, height, channels, rows) of an 8-bit RGB or RGBA, non-interlaced PNG; rows are bytes."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG file")
    position, idat, header = 8, [], None
    while position + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        body = data[position + 8:position + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        position += 12 + length
    if header is None:
        raise ValueError("no IHDR chunk")
    width, height, depth, color_type, _, _, interlace = header
    channels = {2: 3, 6: 4}.get(color_type)
    if depth != 8 or channels is None or interlace:
        raise ValueError(f"unsupported PNG layout (depth {depth}, colour type {color_type}, interlace {interlace})")
    raw = zlib.decompress(b"".join(idat))
    stride = width * channels
    rows, previous = [], bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        if kind == 1:
            for i in range(channels, stride):
                line[i] = (line[i] + line[i - channels]) & 0xFF
        elif kind == 2:
            line = bytearray((a + b) & 0xFF for a, b in zip(line, previous))
        elif kind == 3:
            for i in range(stride):
                left = line[i - channels] if i >= channels else 0
                line[i] = (line[i] + ((left + previous[i]) >> 1)) & 0xFF
        elif kind == 4:
            for i in range(stride):
                a = line[i - channels] if i >= channels else 0
                b = previous[i]
                c = previous[i - channels] if i >= channels else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        elif kind != 0:
            raise ValueError(f"row {y}: unknown filter {kind}")
        rows.append(bytes(line))
        previous = line
    return width, height, channels, rows


def pixel_summary(path):
    """(fraction of non-white pixels, blue present, red present)."""
    width, height, channels, rows = decode_png(path)
    non_white, blue, red = 0, False, False
    for row in rows:
        for x in range(0, width * channels, channels):
            rgb = (row[x], row[x + 1], row[x + 2])
            if rgb != (255, 255, 255):
                non_white += 1
                blue = blue or rgb == BLUE
                red = red or rgb == RED
    return non_white / float(width * height), blue, red


def run_chromium(chromium, url, extra, stdout_path):
    command = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
               "--enable-logging=stderr", "--v=0", "--host-resolver-rules=MAP * ~NOTFOUND"] + extra + [url]
    with open(stdout_path, "wb") as out:
        done = subprocess.run(command, stdout=out, stderr=subprocess.PIPE, timeout=180)
    return done.returncode, done.stderr.decode("utf-8", "replace")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index", help="the dashboard's index.html")
    parser.add_argument("--chromium", default=os.environ.get("CHROMIUM", "chromium"))
    parser.add_argument("--out", help="folder for screenshot.png and dom.html")
    parser.add_argument("--size", default="1400,2000", help="window size W,H")
    args = parser.parse_args()

    chromium = shutil.which(args.chromium)
    if not chromium:
        print(f"error: '{args.chromium}' not found (Debian: apt-get install chromium)", file=sys.stderr)
        return 2
    index = os.path.abspath(args.index)
    out = args.out or os.path.join(os.path.dirname(index), "render-check")
    os.makedirs(out, exist_ok=True)
    url = "file://" + index
    with open(index, encoding="utf-8") as f:
        source_charts = len(re.findall(r'<svg class="plot"', f.read()))
    version = subprocess.run([chromium, "--version"], capture_output=True, text=True).stdout.strip()

    failures = []
    screenshot = os.path.join(out, "screenshot.png")
    if os.path.exists(screenshot):
        os.remove(screenshot)
    rc, log_shot = run_chromium(chromium, url, [f"--window-size={args.size}", f"--screenshot={screenshot}"],
                                os.path.join(out, "screenshot.log"))
    if rc != 0:
        failures.append(f"chromium --screenshot exited with {rc}")
    dom_path = os.path.join(out, "dom.html")
    rc, log_dom = run_chromium(chromium, url, ["--dump-dom"], dom_path)
    if rc != 0:
        failures.append(f"chromium --dump-dom exited with {rc}")

    console = [line for line in (log_shot + log_dom).splitlines() if ":CONSOLE" in line]
    failures += [f"console message: {line}" for line in console]

    coverage = None
    if not os.path.exists(screenshot):
        failures.append(f"no screenshot at {screenshot}")
    else:
        try:
            coverage, blue, red = pixel_summary(screenshot)
            if coverage < 0.02:
                failures.append(f"screenshot nearly blank: {coverage:.2%} of its pixels are not white")
            if not blue or not red:
                failures.append("screenshot lacks a series colour: " + ", ".join(
                    name for name, seen in (("llama-worker blue", blue), ("llama.cpp red", red)) if not seen))
        except (OSError, ValueError, zlib.error) as error:
            failures.append(f"screenshot unreadable: {error}")

    with open(dom_path, encoding="utf-8", errors="replace") as f:
        dom = f.read()
    svgs = re.findall(r'<svg class="plot".*?</svg>', dom, re.S)
    if source_charts == 0 or len(svgs) != source_charts:
        failures.append(f"the DOM holds {len(svgs)} charts, the page source {source_charts}")
    empty = [i for i, svg in enumerate(svgs) if 'class="point"' not in svg]
    if empty:
        failures.append(f"charts without a data point in the DOM: {empty}")

    if failures:
        for failure in failures:
            print(f"FAILED: {failure}")
        print(f"render check failed ({version}); screenshot and DOM in {out}")
        return 1
    print(f"render ok: {version}; {len(svgs)} charts in the DOM, each with data points; screenshot "
          f"{coverage:.1%} non-white with both series colours; no console message; files in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
