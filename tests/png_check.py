#!/usr/bin/python3
"""png_check.py PNG WIDTH HEIGHT RGB... - checks a screenshot of a flame graph:
its size is WIDTH x HEIGHT, it is not blank (most of it white, but a good share
of other pixels), and every colour RGB ("r,g,b") is there, within a small
tolerance (a browser may blend an edge or manage colours), on at least 50
pixels. The PNG is decoded here (zlib and struct: no PIL): 8-bit RGB or
RGBA, not interlaced, as Chromium writes it. Prints what it found; exits 1
on a failure."""

import struct
import sys
import zlib


def decode(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        sys.exit(f"FAIL: {path} is not a PNG")
    at, idat, head = 8, [], None
    while at < len(data):
        length, kind = struct.unpack(">I4s", data[at:at + 8])
        body = data[at + 8:at + 8 + length]
        if kind == b"IHDR":
            head = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        at += 12 + length
    width, height, depth, ctype, _, _, interlace = head
    if depth != 8 or ctype not in (2, 6) or interlace:
        sys.exit(f"FAIL: {path}: depth {depth}, colour type {ctype}, interlace {interlace}: "
                 "only 8-bit RGB(A), not interlaced, is decoded here")
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        if kind == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xFF
        elif kind == 2:
            for i in range(stride):
                line[i] = (line[i] + prev[i]) & 0xFF
        elif kind == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xFF
        elif kind == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b = prev[i]
                c = prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 0xFF
        rows.append(line)
        prev = line
    return width, height, bpp, rows


def main(argv):
    path, want_w, want_h = argv[0], int(argv[1]), int(argv[2])
    colours = [tuple(int(x) for x in c.split(",")) for c in argv[3:]]
    width, height, bpp, rows = decode(path)
    failed = False
    counts, white = {}, 0
    for line in rows:
        for i in range(0, len(line), bpp):
            px = (line[i], line[i + 1], line[i + 2])
            counts[px] = counts.get(px, 0) + 1
    white = sum(n for px, n in counts.items() if min(px) >= 250)
    total = width * height
    print(f"{path}: {width}x{height}, {len(counts)} colours, {100 * white / total:.1f}% white")
    if (width, height) != (want_w, want_h):
        print(f"FAIL: the PNG is {width}x{height}, not {want_w}x{want_h}")
        failed = True
    if white > 0.98 * total or len(counts) < 20:
        print("FAIL: the PNG is blank (almost all white, or few colours)")
        failed = True
    for want in colours:
        near = sum(n for px, n in counts.items() if max(abs(a - b) for a, b in zip(px, want)) <= 6)
        print(f"colour {want}: {near} pixels")
        if near < 50:
            print(f"FAIL: the colour {want} is missing (fewer than 50 pixels within 6)")
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
