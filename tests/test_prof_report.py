#!/usr/bin/python3
"""test_prof_report.py FIXTURE TOOL SOURCE NOPIE - tools/numa-alloc-prof on profiles
written by hand (tests/prof_fixture.py) from the real stacks of FIXTURE (a -g
build of SOURCE, tests/prof_fixture.c; NOPIE the same linked -no-pie, whose
segments' virtual addresses differ from their file offsets):
 - the report: sites in the order of remote bytes, their shares, decisions,
   per-node bytes, function names and the file:line of the lines SOURCE marks
   SITE-<name> (found by grep, not by the tool), an inlined frame;
 - --collapsed (exact folded lines, for each --weight), --tsv (columns, values);
 - --svg: well-formed XML, a rectangle per frame, colours that follow the share
   of remote frees, the title line;
 - object+offset for a build without debug information, one without symbols
   and a deleted one; a pc in no mapping;
 - files that are missing, empty, of another format, not profiles, truncated
   (no 'end', a line cut short): one clear line, exit 1 where nothing can be
   read, a warning and the report otherwise.
Prints ok:/FAIL: per check; exits 1 on any failure."""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

fixture, tool, source, nopie = sys.argv[1:5]
here = os.path.dirname(os.path.abspath(__file__))
failures = 0


def check(what, ok, detail=""):
    global failures
    if ok:
        print(f"ok: {what}")
    else:
        failures += 1
        print(f"FAIL: {what}" + (f"\n{detail}" if detail else ""))
    return ok


def run(*args):
    r = subprocess.run([sys.executable, tool] + list(args), capture_output=True, text=True)
    return r.returncode, r.stdout, r.stderr


def generate(program, out, *extra):
    subprocess.run([sys.executable, os.path.join(here, "prof_fixture.py"), program, out]
                   + list(extra), check=True)


def marked(name):
    with open(source) as f:
        for number, line in enumerate(f, start=1):
            if f"SITE-{name} " in line:
                return f"prof_fixture.c:{number}"
    sys.exit(f"no SITE-{name} in {source}")


work = tempfile.mkdtemp(prefix="numa-alloc-prof-test.")
try:
    prof = os.path.join(work, "fixture.prof")
    # A copy under a fixed name: the program's path is in the profile.
    program = os.path.join(work, "prof_fixture")
    shutil.copy(fixture, program)
    generate(program, prof)

    # --- the report -----------------------------------------------------------
    rc, out, err = run(prof, "--top=0")
    check("the report exits 0", rc == 0, err)
    check("the report warns about nothing", err == "", err)
    heads = re.findall(r"^#(\d+) (\S+)", out, re.M)
    check("the sites in the order of remote bytes: producer, explicit, local, unknown pc",
          [h[1] for h in heads] == ["producer", "explicit_inner", "consumer_local", "0xdead0000"]
          and [h[0] for h in heads] == ["1", "2", "3", "4"], out)
    check("the header defines remote bytes",
          "decision fallback-*" in out and "the bytes freed by a thread on another node than "
          "the block's" in " ".join(out.split()), out)
    check("the header names program, pid, rate, unwinder",
          f"{program} (pid 4242)" in out and "524288" in out and "libgcc" in out, out)
    check("the header counts sites, samples and lost samples",
          "4 call sites, 345 samples (3 lost)" in out, out)
    table = out.split("\n#1 ")[0]
    rows = {m.group(1): m.group(0) for m in
            re.finditer(r"^\s+\d+\s.*\s(producer|explicit_inner|consumer_local|0xdead0000)\b.*$",
                        table, re.M)}
    check("table: producer placed remote 10.0%, other thread 99.0%, other node 86.7%",
          re.search(r"10\.0%\s+99\.0%\s+86\.7%", rows.get("producer", "")), table)
    check("table: producer's decisions local 90%, fallback-full 10%",
          "local 90%, fallback-full 10%" in rows.get("producer", ""), table)
    check("table: producer's bytes per node (8.6 MiB on node 0, 976.6 KiB on node 1)",
          re.search(r"8\.6 MiB\s+976\.6 KiB", rows.get("producer", "")), table)
    check("table: explicit placed remote 0.0% (asked for, not a fallback), freed from another "
          "node 100.0%",
          re.search(r"\s0\.0%\s+0\.0%\s+100\.0%\s+2\.9 MiB", rows.get("explicit_inner", "")),
          table)
    check("table: an unfreed site's shares are '-'",
          re.search(r"0\.0%\s+-\s+-\s+488\.3 KiB", rows.get("0xdead0000", "")), table)
    check("table: mean lifetime (producer 100 ms / 98 samples = 1.0 ms; local 10.0 us)",
          "1.0 ms" in rows.get("producer", "") and "10.0 us" in rows.get("consumer_local", ""),
          table)
    for name, fn in (("producer", "producer"), ("run_producer", "run_producer"),
                     ("main-producer", "main"), ("local", "consumer_local"),
                     ("explicit", "explicit_inner"), ("explicit-caller", "explicit_site"),
                     ("main-explicit", "main")):
        check(f"frame {fn} at {marked(name)} (SITE-{name})",
              re.search(rf"^\s+{fn}( \(inlined\))?\s+\S*/{re.escape(marked(name))}$", out, re.M),
              out)
    check("the inlined frame is marked", re.search(r"explicit_inner \(inlined\)", out), out)
    check("a pc in no mapping shows as its address",
          re.search(r"^\s+\?\?\s+0xdead0000$", out, re.M), out)
    check("the detail: shares of the producer site",
          "freed 9.3 MiB (9800 objects): 99.0% by another thread, 86.7% from another node\n"
          "  live at exit 195.3 KiB (200 objects)" in out, out)
    check("the detail: objects per node",
          "node 0 8.6 MiB (9000 objects), node 1 976.6 KiB (1000 objects)" in out, out)
    rc, top1, _ = run(prof, "--top=1")
    check("--top=1 shows one site and says how many more",
          "#2 " not in top1 and "(3 more sites" in top1, top1)
    rc, by_bytes, _ = run(prof, "--sort=bytes", "--top=0")
    check("--sort=bytes puts the local site first",
          re.findall(r"^#\d+ (\S+)", by_bytes, re.M)[:2] == ["consumer_local", "producer"],
          by_bytes)

    # --- --collapsed -----------------------------------------------------------
    expected = {
        "bytes": ["main;0xdead0000 500000", "main;consumer_local 20000000",
                  "main;explicit_site;explicit_inner 4000000",
                  "main;run_producer;producer 10000000"],
        "objects": ["main;0xdead0000 500", "main;consumer_local 20000",
                    "main;explicit_site;explicit_inner 40", "main;run_producer;producer 10000"],
        "remote": ["main;explicit_site;explicit_inner 1000000",
                   "main;run_producer;producer 9500000"],
    }
    for weight, lines in expected.items():
        rc, out, err = run(prof, "--collapsed", f"--weight={weight}")
        check(f"--collapsed --weight={weight}: exact folded lines",
              rc == 0 and out.splitlines() == lines, out + err)
    rc, default, _ = run(prof, "--collapsed")
    check("--collapsed weighs bytes by default", default.splitlines() == expected["bytes"], default)

    # --- --tsv -------------------------------------------------------------------
    rc, out, err = run(prof, "--tsv")
    rows = [line.split("\t") for line in out.splitlines()]
    head = rows[0] if rows else []
    need = ["rank", "top_function", "frames", "bytes", "objects", "remote_bytes",
            "placed_remote_share", "freed_other_thread_share", "freed_other_node_share",
            "live_bytes", "decisions"]
    check("--tsv: the header has the agreed columns", all(c in head for c in need), str(head))
    check("--tsv: a header and one line per site, all as wide",
          len(rows) == 5 and all(len(r) == len(head) for r in rows), out)
    if len(rows) == 5 and all(c in head for c in need):
        first = dict(zip(head, rows[1]))
        want = {"rank": "1", "top_function": "producer", "top_location": marked("producer"),
                "frames": "main;run_producer;producer", "bytes": "10000000", "objects": "10000",
                "remote_bytes": "9500000", "placed_remote_share": "0.1000",
                "freed_other_thread_share": "0.9898", "freed_other_node_share": "0.8673",
                "live_bytes": "200000", "decisions": "local:0.9000,fallback-full:0.1000",
                "bytes_by_node": "0:9000000,1:1000000"}
        for key, value in want.items():
            check(f"--tsv: producer's {key} is {value}", first.get(key) == value, str(first))
        order = [dict(zip(head, r))["top_function"] for r in rows[1:]]
        check("--tsv: in the order of remote bytes",
              order == ["producer", "explicit_inner", "consumer_local", "0xdead0000"], str(order))
        explicit = dict(zip(head, rows[2]))
        check("--tsv: the explicit site says explicit", explicit["decisions"] == "explicit:1.0000",
              str(explicit))
        unfreed = dict(zip(head, rows[4]))
        check("--tsv: shares of an unfreed site are '-'",
              unfreed["freed_other_node_share"] == "-", str(unfreed))

    # --- --svg ---------------------------------------------------------------------
    svg = os.path.join(work, "flame.svg")
    rc, out, err = run(prof, f"--svg={svg}")
    check("--svg exits 0 and says what it wrote", rc == 0 and "wrote" in err, err)
    try:
        tree = ET.parse(svg)
    except (OSError, ET.ParseError) as e:
        tree = None
        check("--svg writes well-formed XML", False, str(e))
    if tree is not None:
        check("--svg writes well-formed XML", True)
        ns = "{http://www.w3.org/2000/svg}"
        root = tree.getroot()
        check("the root is an svg element with a width and height",
              root.tag == ns + "svg" and root.get("width") and root.get("height"))
        text = " ".join(t.text or "" for t in root.iter(ns + "text"))
        check("the title line names program, pid and rate",
              f"{program} (pid 4242)" in text and "524288" in text, text)
        check("the legend says what the colour is", "another node" in text and "100%" in text,
              text)
        frames = {}
        group = root.find(f"{ns}g[@id='frames']")
        for g in (group if group is not None else []):
            title, rect = g.find(ns + "title"), g.find(ns + "rect")
            if title is not None and rect is not None:
                frames[title.text.split(" ")[0].split("\n")[0]] = (rect, title.text)
        check("a rectangle per frame",
              set(frames) >= {"all:", "main", "run_producer", "producer", "consumer_local",
                              "explicit_site", "explicit_inner", "0xdead0000"}, str(frames.keys()))

        def rgb(name):
            fill = frames[name][0].get("fill", "#000000")
            return tuple(int(fill[i:i + 2], 16) for i in (1, 3, 5))

        def width(name):
            return float(frames[name][0].get("width", 0))

        if {"producer", "consumer_local", "explicit_inner", "0xdead0000", "all:"} <= set(frames):
            r, g, b = rgb("consumer_local")
            check("0% freed remotely is blue", b > r + 60, str((r, g, b)))
            r, g, b = rgb("explicit_inner")
            check("100% freed remotely is red", r > b + 60, str((r, g, b)))
            r, g, b = rgb("producer")
            check("87% freed remotely is reddish, not the red of 100%",
                  r > b + 30 and (r, g, b) != rgb("explicit_inner"), str((r, g, b)))
            r, g, b = rgb("0xdead0000")
            check("nothing freed is grey", r == g == b, str((r, g, b)))
            check("widths follow bytes (local twice producer)",
                  abs(width("consumer_local") / width("producer") - 2.0) < 0.01,
                  f"{width('consumer_local')} {width('producer')}")
            check("the root is as wide as its children",
                  abs(width("all:") - width("main")) < 0.01)
            check("tooltips carry the numbers",
                  "86.7%" in frames["producer"][1] and "9.5 MiB" in frames["producer"][1],
                  frames["producer"][1])
        legend = [r.get("fill") for r in root.findall(f"{ns}rect") if r.find(ns + "title") is not None]
        check("the legend: 11 steps from blue to red",
              len(legend) == 11 and int(legend[0][5:7], 16) > int(legend[0][1:3], 16)
              and int(legend[-1][1:3], 16) > int(legend[-1][5:7], 16), str(legend))
        labels = [t.text for t in root.iter(ns + "text") if t.text]
        check("frame labels are readable text", "run_producer" in labels, str(labels))

    # --- no debug information, no symbols, a deleted object -------------------------
    nodebug = os.path.join(work, "fixture_nodebug")
    shutil.copy(fixture, nodebug)
    subprocess.run(["strip", "-g", nodebug], check=True)
    generate(nodebug, prof + ".nodebug", f"--symbols-from={fixture}", "--keep-outer")
    rc, out, err = run(prof + ".nodebug", "--top=0")
    check("without debug information: function and object+offset",
          re.search(r"^#1 producer \(fixture_nodebug\+0x[0-9a-f]+\)", out, re.M), out + err)
    stripped = os.path.join(work, "fixture_stripped")
    shutil.copy(fixture, stripped)
    subprocess.run(["strip", "-s", stripped], check=True)
    generate(stripped, prof + ".stripped", f"--symbols-from={fixture}")
    rc, out, err = run(prof + ".stripped", "--collapsed")
    check("without symbols: object+offset frames",
          re.search(r"^fixture_stripped\+0x[0-9a-f]+;fixture_stripped\+0x[0-9a-f]+;"
                    r"fixture_stripped\+0x[0-9a-f]+ 10000000$", out, re.M), out + err)
    gone = os.path.join(work, "fixture_gone")
    shutil.copy(fixture, gone)
    generate(gone, prof + ".gone", f"--symbols-from={fixture}")
    os.unlink(gone)
    rc, out, err = run(prof + ".gone", "--top=0")
    check("a deleted object: a warning, frames as object+offset, exit 0",
          rc == 0 and "cannot read" in err and "fixture_gone" in err
          and re.search(r"^#1 fixture_gone\+0x[0-9a-f]+ ", out, re.M), out + err)
    rc, out, err = run(prof, "--no-symbols", "--collapsed")
    check("--no-symbols: object+offset", re.search(r"^prof_fixture\+0x", out), out)

    # A position-dependent executable: file offset 0x1xxx is address 0x401xxx.
    fixed = os.path.join(work, "fixture_nopie")
    shutil.copy(nopie, fixed)
    generate(fixed, prof + ".nopie")
    rc, out, err = run(prof + ".nopie", "--collapsed")
    check("a -no-pie executable: its frames named (the program headers' addresses)",
          "main;run_producer;producer 10000000" in out.splitlines(), out + err)

    # --- bad and cut files -------------------------------------------------------
    with open(prof) as f:
        whole = f.read()

    def variant(name, text):
        path = os.path.join(work, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    rc, out, err = run(os.path.join(work, "nothing-here.prof"))
    check("a missing file: one line, exit 1",
          rc == 1 and out == "" and err.count("\n") == 1 and "cannot read" in err
          and "No such file" in err, err)
    rc, out, err = run(variant("empty.prof", ""))
    check("an empty file: one line, exit 1", rc == 1 and err.count("\n") == 1 and "empty" in err,
          err)
    rc, out, err = run(variant("json.prof", '{"pid": 1}\n'))
    check("not a profile: one line naming the expected header, exit 1",
          rc == 1 and err.count("\n") == 1 and "not a numa-alloc profile" in err
          and "numa-alloc-profile 1" in err, err)
    rc, out, err = run(variant("v2.prof", whole.replace("numa-alloc-profile 1", "numa-alloc-profile 2")))
    check("format 2: one line, exit 1", rc == 1 and err.count("\n") == 1 and "format 2" in err, err)
    no_end = whole.replace("lost 3\nend\n", "")
    rc, out, err = run(variant("no-end.prof", no_end), "--top=0")
    check("no 'end': a warning, the report, exit 0",
          rc == 0 and "truncated" in err and "#1 producer" in out and "TRUNCATED" in out, err)
    cut_at = whole.index("site 3 ") + 20
    rc, out, err = run(variant("cut.prof", whole[:cut_at]), "--top=0")
    check("cut in the middle of a line: a warning, the sites before it, exit 0",
          rc == 0 and "truncated" in err and "#1 producer" in out and "explicit_inner" not in out,
          out + err)
    rc, out, err = run(variant("cut.prof", whole[:cut_at]), "--tsv")
    check("cut: --tsv still has its header", rc == 0 and out.startswith("rank\t"), out)
    rc, out, err = run(variant("depth3.prof", whole.replace("\ndepth 48\n", "\ndepth 3\n")),
                       "--collapsed")
    check("a stack of the full depth gets an outermost '(stack cut at N frames)'",
          "(stack cut at 3 frames);main;run_producer;producer 10000000" in out.splitlines()
          and "main;consumer_local 20000000" in out.splitlines(), out + err)
    rc, out, err = run(variant("args.prof", whole.replace("--fixture", "--two\\x0alines")))
    check("a control character of an argument stays escaped",
          f"command: {program} --two\\x0alines a b\n" in out, out)
    rc, out, err = run(variant("live.prof", whole.replace("\ncomplete 1\n", "\ncomplete 0\n")),
                       "--sort=live", "--top=0")
    check("a live snapshot says so; --sort=live puts the explicit site first",
          "live snapshot" in out and "live when written 2.9 MiB" in out
          and re.findall(r"^#\d+ (\S+)", out, re.M)[:2] == ["explicit_inner", "0xdead0000"], out)
    bad = whole.replace("site 2 node=0", "site x node=0")
    rc, out, err = run(variant("bad-line.prof", bad), "--top=0")
    check("a malformed line: a warning with its line number, the rest reported",
          rc == 0 and re.search(r"bad-line\.prof:\d+: malformed line", err)
          and "#1 producer" in out, err)
    rc, out, err = run(prof, "--svg=" + os.path.join(work, "no-such-dir", "x.svg"))
    check("an unwritable --svg: one line, exit 1", rc == 1 and "cannot write" in err, err)
finally:
    shutil.rmtree(work, ignore_errors=True)

if failures:
    print(f"{failures} check(s) failed")
    sys.exit(1)
print("PASS: test_prof_report")
