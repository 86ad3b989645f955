"""fwbuild benchmarks, side by side with what users would otherwise run.

    .venv/bin/python bench/run.py            # everything, about half an hour on 2 cores
    .venv/bin/python bench/run.py --quick    # fewer repetitions, N <= 100: about five minutes
    .venv/bin/python bench/run.py --write    # also rewrite bench/RESULTS.md

A long run measures a fixed commit when started from a copy, so that edits made meanwhile
do not reach it (the copy's site_scons/ comes first on the path):

    git archive HEAD | tar -x -C /tmp/snap
    FWBUILD_BENCH_COMMIT=$(git rev-parse --short HEAD) PYTHONPATH=/tmp/snap/site_scons \
        .venv/bin/python /tmp/snap/bench/run.py --write   # writes /tmp/snap/bench/RESULTS.md

Every figure is a median of several runs. Sections:
1. post-link pipeline (merge + MCUboot header + signature + .bin + .hex) against intelhex
   (what the Mbed tools did) + `imgtool sign` (what Zephyr does), for 1, 2 and 4 MiB;
2. null build against plain SCons building the same nodes (bench/baseline/SConstruct);
3. offset change: compiles, links and time against a full build;
4. every shipped target in one run: -j1, -j2, and one process per target;
5. peak memory of the pipeline on a 4 MiB image;
6. builds at firmware scale (bench/scale.py): N = 10, 100, 500, 2000 generated C files by
   fwbuild, plain SCons, CMake + Ninja and fwbuild ninja=1, and fwbuild's own steps on the
   largest build (about 25 minutes; --quick: N = 10 and 100, a few minutes);
7. `fwbuild sign --target` against `imgtool sign`, as commands (start-up included).
The timings are for reading, never asserted by a test.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "site_scons"))

from fwbuild.fileio import write_atomic  # noqa: E402
from fwbuild.image import Part, hex_chunks, hex_text  # noqa: E402
from fwbuild.keys import load_private_key  # noqa: E402
from fwbuild.resolve import resolve  # noqa: E402
from fwbuild.signing import mcuboot_slot_image  # noqa: E402
from fwbuild.slot import combined_image, combined_parts  # noqa: E402

BIN = Path(sys.executable).parent
SCONS = str(BIN / "scons")
IMGTOOL = str(BIN / "imgtool")
FWBUILD = str(BIN / "fwbuild")
DEV_KEY = REPO / "example_project" / "keys" / "dev-signing-key.pem"
EXAMPLE = REPO / "example_project"
MIB = 1 << 20
BOOT_SIZE = 0x8000


def median_ms(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


# -- 1. the post-link pipeline -----------------------------------------------------------
def pipeline_project(folder: Path, size: int) -> tuple[Path, str]:
    """A project whose layout is MPS2_AN385's with a 32 KiB prebuilt bootloader; images
    above 4 MiB - 33 KiB use the same chip with 16 MiB of flash (a bench-only target)."""
    folder.mkdir(parents=True)
    rng = random.Random(size)
    (folder / "boot.bin").write_bytes(rng.randbytes(BOOT_SIZE))
    target = "MPS2_AN385"
    data: dict = {"name": "bench", "version": "1.0.0"}
    if size > 4 * MIB - 0x10000:
        (folder / "targets").mkdir()
        (folder / "targets" / "BENCH_MPS2_16M.json").write_text(
            json.dumps({"inherits": "MPS2_AN385", "flash": {"size": "0x1000000"}})
        )
        data["targets_dirs"] = ["targets"]
        target = "BENCH_MPS2_16M"
    layout = {"bootloader_img": "boot.bin", "header_offset": "0x8000", "app_offset": "0x8400"}
    data["target_overrides"] = {target: layout}
    (folder / "fwbuild.json").write_text(json.dumps(data))
    (folder / "app.bin").write_bytes(rng.randbytes(size))
    return folder, target


def ours(folder: Path, target: str, out: Path) -> dict[str, float]:
    resolved = resolve(folder, target)
    layout, project = resolved.layout, resolved.project
    signer = load_private_key(DEV_KEY)
    boot = (folder / "boot.bin").read_bytes()
    app = (folder / "app.bin").read_bytes()
    header = layout.region("header")
    parts: list[Part] = []

    def bin_path() -> None:
        slot = mcuboot_slot_image(layout, project.signing, project.version, app, signer)
        parts[:] = combined_parts(layout, [Part("boot", 0, boot)], [Part("slot", header.start, slot)])
        write_atomic(out / "app-signed.bin", slot)
        write_atomic(out / "combined.bin", combined_image(layout, parts))

    def hex_path() -> None:
        write_atomic(out / "combined.hex", hex_chunks(parts))

    return {"bin": median_ms(bin_path, REPEAT), "hex": median_ms(hex_path, REPEAT)}


def baseline(folder: Path, target: str, out: Path) -> dict[str, float]:
    from intelhex import IntelHex

    resolved = resolve(folder, target)
    app_region = resolved.layout.application
    slot_size = app_region.end - 0x8000

    def imgtool() -> None:
        subprocess.run(
            [IMGTOOL, "sign", "--pad-header", "-H", "0x400", "-v", "1.0.0", "-S", hex(slot_size),
             "--align", "4", "-s", "auto", "-k", str(DEV_KEY), str(folder / "app.bin"),
             str(out / "imgtool-signed.bin")],
            check=True, capture_output=True,
        )  # fmt: skip

    def intelhex() -> None:
        merged = IntelHex()
        merged.loadbin(str(folder / "boot.bin"), offset=0)
        slot = IntelHex()
        slot.loadbin(str(out / "imgtool-signed.bin"), offset=0x8000)
        merged.merge(slot, overlap="error")
        merged.write_hex_file(str(out / "baseline.hex"))
        merged.tobinfile(str(out / "baseline.bin"))

    return {"imgtool": median_ms(imgtool, REPEAT), "intelhex": median_ms(intelhex, max(3, REPEAT // 2))}


def bench_pipeline(work: Path) -> list[dict]:
    rows = []
    for size in (MIB, 2 * MIB, 4 * MIB):
        folder, target = pipeline_project(work / f"pipeline-{size}", size)
        out = work / f"out-{size}"
        out.mkdir()
        mine, theirs = ours(folder, target, out), baseline(folder, target, out)
        # same bytes as intelhex would write for the same parts (checked, not assumed)
        from intelhex import IntelHex

        check = IntelHex(str(out / "combined.hex"))
        assert check.tobinstr() == (out / "combined.bin").read_bytes()
        rows.append({"size": size, "target": target, **mine, **theirs})
    return rows


# -- 2-4. builds -------------------------------------------------------------------------
# A step's line in the build log, after its "[n/N] " progress counter: "[3/25] LINK build/K64F/app.elf".
STEP = r"^\[\d+/\d+\] {} (\S+)"
# As on a user's machine: Python caches compiled modules (a CI image may turn that off).
SCONS_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def scons(project: Path, *args: str) -> tuple[float, str]:
    start = time.perf_counter()
    result = subprocess.run([SCONS, "-C", str(project), *args], capture_output=True, text=True, env=SCONS_ENV)
    elapsed = time.perf_counter() - start
    if result.returncode:
        raise SystemExit(f"scons {' '.join(args)} failed in {project}:\n{result.stdout}\n{result.stderr}")
    return elapsed, result.stdout


def fresh_example(where: Path) -> Path:
    shutil.copytree(EXAMPLE, where, ignore=shutil.ignore_patterns("build", ".sconsign*"))
    return where


def clean(project: Path) -> None:
    shutil.rmtree(project / "build", ignore_errors=True)
    shutil.rmtree(project / "build_plain", ignore_errors=True)
    for db in project.glob(".sconsign*"):
        db.unlink()


def bench_null_build(work: Path) -> dict:
    fw = fresh_example(work / "null-fw")
    scons(fw, "-Q", "target=K64F")
    plain = fresh_example(work / "null-plain")
    shutil.copy(REPO / "bench" / "baseline" / "SConstruct", plain / "SConstruct")
    (plain / "gen").mkdir()
    for name in ("app.ld", "bootloader/bootloader.ld", "fwbuild_layout.h"):
        shutil.copy(fw / "build" / "K64F" / name, plain / "gen" / Path(name).name)
    scons(plain, "-Q")
    ours_s, plain_s = [], []
    for _ in range(3 * REPEAT):  # interleaved, so drift hits both alike; a run is short
        ours_s.append(scons(fw, "-Q", "target=K64F")[0])
        plain_s.append(scons(plain, "-Q")[0])
    steps = scons(fw, "target=K64F")[1]
    assert not re.search(STEP.format("(?:CC|LINK|SIGN|MERGE)"), steps, re.M), steps
    return {"fwbuild": statistics.median(ours_s) * 1000, "plain": statistics.median(plain_s) * 1000}


def bench_offset_change(work: Path) -> list[dict]:
    """The example as shipped (its bootloader includes fwbuild_layout.h, so it recompiles by
    design), and the application alone (K64F without the bootloader layout)."""
    cases = (
        ("example, managed: 0x8400 -> 0x8800", None, {"app_offset": "0x8800", "restrict_size": "0x7B800"}),
        ("application alone: 0x0 -> 0x8000", {}, {"app_offset": "0x8000"}),
    )
    rows = []
    for number, (name, before, after) in enumerate(cases):
        project = fresh_example(work / f"offset-{number}")
        path = project / "fwbuild.json"
        config = json.loads(path.read_text())
        if before is not None:
            config["target_overrides"]["K64F"] = before
            path.write_text(json.dumps(config))
        full, _ = scons(project, "target=K64F")
        config["target_overrides"]["K64F"] = {**config["target_overrides"]["K64F"], **after}
        path.write_text(json.dumps(config))
        elapsed, log = scons(project, "target=K64F")
        rows.append(
            {
                "case": name,
                "full": full * 1000,
                "offset": elapsed * 1000,
                "compiles": re.findall(STEP.format("CC"), log, re.M),
                "links": re.findall(STEP.format("LINK"), log, re.M),
            }
        )
    return rows


def bench_many_targets(work: Path) -> dict:
    from fwbuild.targets import TargetSet

    targets = TargetSet().public_names()
    project = fresh_example(work / "many")
    runs: dict[str, list[float]] = {"j1": [], "j2": [], "per_target": []}
    for _ in range(max(2, REPEAT // 3)):
        clean(project)
        runs["j1"].append(scons(project, "-j1", "target=all")[0])
        clean(project)
        runs["j2"].append(scons(project, "-j2", "target=all")[0])
        clean(project)
        runs["per_target"].append(sum(scons(project, "-j2", f"target={t}")[0] for t in targets))
    return {"targets": len(targets), **{k: statistics.median(v) * 1000 for k, v in runs.items()}}


# -- 5. memory -------------------------------------------------------------------------------
def memory_child(folder: Path, target: str) -> None:
    """Run in a child process on inputs the parent made: peak memory of the pipeline
    above what the interpreter, the imports and the inputs already hold."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        resolved = resolve(folder, target)
        layout, project = resolved.layout, resolved.project
        signer = load_private_key(DEV_KEY)
        boot, app = (folder / "boot.bin").read_bytes(), (folder / "app.bin").read_bytes()
        hex_text([Part("warm-up", 0, b"\0" * 64)])  # imports fwbuild.image before the baseline
        header = layout.region("header")
        Path("/proc/self/clear_refs").write_text("5")  # Linux: restart the peak-RSS count here
        before = _peak_rss()
        tracemalloc.start()
        slot = mcuboot_slot_image(layout, project.signing, project.version, app, signer)
        parts = combined_parts(layout, [Part("boot", 0, boot)], [Part("slot", header.start, slot)])
        write_atomic(out / "app-signed.bin", slot)
        write_atomic(out / "combined.bin", combined_image(layout, parts))
        write_atomic(out / "combined.hex", hex_chunks(parts))
        traced = tracemalloc.get_traced_memory()[1]
        after = _peak_rss()
    print(json.dumps({"rss_before": before, "rss_peak": after, "traced_peak": traced}))


def _peak_rss() -> int:
    """VmHWM: the peak resident set since the last reset, in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def bench_memory(work: Path) -> dict:
    size = 4 * MIB
    folder, target = pipeline_project(work / "memory", size)
    result = subprocess.run(
        [sys.executable, __file__, "--memory-child", str(folder), target],
        capture_output=True,
        text=True,
        check=True,
    )
    return {"size": size, **json.loads(result.stdout)}


# -- 7. signing from the command line --------------------------------------------------------
def bench_sign(work: Path) -> list[dict]:
    """`fwbuild sign --target T` against `imgtool sign` with the same header, slot, version,
    security counter and key, each as the command a user runs. K64F's slot holds 496 KiB,
    so the 1 MiB image is signed for MPS2_AN385 (4 MiB of flash)."""
    sys.path.insert(0, str(REPO / "bench"))
    from gen_repo import KEY, write_repo

    k64f = write_repo(work / "sign-k64f", 1)  # its fwbuild.json: the K64F layout, an Ed25519 key
    (k64f / "app.bin").write_bytes(random.Random(1).randbytes(480 * 1024))
    mps2, _ = pipeline_project(work / "sign-mps2", MIB)
    rows = []
    for target, folder, key in (("K64F", k64f, k64f / KEY), ("MPS2_AN385", mps2, DEV_KEY)):
        layout = resolve(folder, target).layout
        header = layout.region("header")
        app, ours_out, theirs_out = (
            folder / "app.bin",
            work / f"{target}-fw.bin",
            work / f"{target}-imgtool.bin",
        )
        ours_cmd = [FWBUILD, "sign", "--target", target, "--project", str(folder), "--key", str(key),
                    str(app), str(ours_out)]  # fmt: skip
        theirs_cmd = [IMGTOOL, "sign", "--pad-header", "-H", hex(header.size), "-v", "1.0.0",
                      "-S", hex(layout.application.end - header.start), "--align", str(layout.write_size),
                      "-s", "auto", "-k", str(key), str(app), str(theirs_out)]  # fmt: skip
        times: dict[str, list[float]] = {"fwbuild": [], "imgtool": []}
        for _ in range(REPEAT):  # interleaved
            for name, cmd in (("fwbuild", ours_cmd), ("imgtool", theirs_cmd)):
                start = time.perf_counter()
                subprocess.run(cmd, check=True, capture_output=True, env=SCONS_ENV)
                times[name].append(time.perf_counter() - start)
        ours_bytes, theirs_bytes = ours_out.read_bytes(), theirs_out.read_bytes()
        if key == DEV_KEY:  # imgtool's ECDSA signatures are randomised: header and payload only
            ours_bytes = ours_bytes[: header.size + app.stat().st_size]
            theirs_bytes = theirs_bytes[: header.size + app.stat().st_size]
        same = hashlib.sha256(ours_bytes).digest() == hashlib.sha256(theirs_bytes).digest()
        rows.append(
            {
                "target": target,
                "size": app.stat().st_size,
                "key": "Ed25519" if key != DEV_KEY else "ECDSA P-256",
                "same": same,
                **{name: statistics.median(values) * 1000 for name, values in times.items()},
            }
        )
    return rows


# -- report ----------------------------------------------------------------------------------
def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gcc = subprocess.run(["arm-none-eabi-gcc", "-dumpversion"], capture_output=True, text=True).stdout.strip()
    from importlib import metadata

    versions = ", ".join(
        f"{name} {metadata.version(name)}" for name in ("scons", "intelhex", "cryptography", "imgtool")
    )
    return (
        f"{os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, "
        f"arm-none-eabi-gcc {gcc}, {versions}"
    )


def code_commit() -> str:
    """The commit measured: this checkout's, or FWBUILD_BENCH_COMMIT for a copy made with
    `git archive` (so that edits made during a long run do not reach it)."""
    given = os.environ.get("FWBUILD_BENCH_COMMIT")
    if given:
        return given
    result = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    return result.stdout.strip() if result.returncode == 0 else "unknown"


def report(pipeline, null, offset, many, memory, scale=None, sign=None, load="") -> str:
    lines = [
        "# Benchmark results",
        "",
        f"Run on {time.strftime('%Y-%m-%d')} by `bench/run.py` ({REPEAT} repetitions, medians).",
        f"Machine: {machine()}.",
        f"Code: commit {code_commit()}. Load average (1, 5, 15 min) at the start: {load}.",
        "",
        "## 1. Post-link pipeline (MCUboot header + ECDSA P-256 signature + merge, .bin and .hex)",
        "",
        "| app | ours: .bin path | ours: .hex | ours total | imgtool sign | intelhex merge+hex+bin "
        "| baseline total | speed-up |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in pipeline:
        mib = row["size"] / MIB
        total, base = row["bin"] + row["hex"], row["imgtool"] + row["intelhex"]
        lines.append(
            f"| {mib:g} MiB | {row['bin']:.1f} ms ({row['bin'] / mib:.1f}/MiB) | {row['hex']:.1f} ms "
            f"({row['hex'] / mib:.1f}/MiB) | {total:.1f} ms | {row['imgtool']:.0f} ms "
            f"| {row['intelhex']:.0f} ms | {base:.0f} ms | {base / total:.1f}x |"
        )
    lines += [
        "",
        "Goals: .bin path <= 10 ms per MiB, Intel HEX <= 30 ms per MiB (byte-identical to intelhex),"
        " the whole pipeline >= 5x faster than the baseline. The 4 MiB row uses MPS2_AN385 with 16 MiB"
        " of flash (a bench-only target), since 4 MiB does not fit beside the bootloader in 4 MiB.",
        "",
        "## 2. Null build (`scons target=K64F`, nothing changed)",
        "",
        "| fwbuild | plain SCons, same nodes | ratio |",
        "|---|---|---|",
        f"| {null['fwbuild']:.0f} ms | {null['plain']:.0f} ms | {null['fwbuild'] / null['plain']:.2f}x |",
        "",
        "Goal: <= 1.10x. The baseline is bench/baseline/SConstruct: bootloader and application"
        " objects, ELF (and its map), objcopy's .bin and .hex, with the same flags and decider,"
        " no fwbuild.",
        "",
        "How (each measured on this machine, 2026-11-28):",
        "",
        "- A null build declares the graph from facts remembered in build/.fwbuild-graph-TARGET.json"
        " (fwbuild.graphfacts) instead of resolving the project: reading the SConstruct imports"
        " four small modules of the core, not the targets, project and layout code with its 13"
        " frozen dataclasses (about 13 ms). The facts are used only while a record of everything"
        " they came from still matches; checking it takes under 1 ms.",
        "- Schema validation and signing-key facts are cached (build/.fwbuild-cache.json), so no"
        " build imports jsonschema or cryptography unless a config file or key changed.",
        "- The tool's Python steps are signed lazily with one hash instead of SCons' bytecode walk"
        " when the tool loads (about 4 ms); help text is built only with -h.",
        "",
        "What remains, by `--debug=time`: about 6 ms more to read the SConstruct (loading the tool,"
        " checking the record, declaring the outputs the baseline does not make: layout.json,"
        " fwbuild_layout.h, two linker scripts, the slot image, the merge, combined.elf, the memory"
        " map and build-info.json) and about 5 ms more for SCons to check those outputs.",
        "",
        "## 3. Offset change (`app_offset` on K64F)",
        "",
        "| project | compiles | links | rebuild | full build |",
        "|---|---|---|---|---|",
        *(
            f"| {row['case']} | {len(row['compiles'])}: {', '.join(row['compiles']) or '-'} "
            f"| {len(row['links'])}: {', '.join(row['links'])} "
            f"| {row['offset']:.0f} ms | {row['full']:.0f} ms |"
            for row in offset
        ),
        "",
        "The application's sources are never recompiled: the layout reaches them through the"
        " linker script. The example bootloader includes fwbuild_layout.h for its addresses, so"
        " its main.c is, and both programs relink.",
        "",
        f"## 4. Every shipped target ({many['targets']}) from clean",
        "",
        "| target=all -j1 | target=all -j2 | one process per target (-j2 each) | -j2 speed-up "
        "| vs per-target |",
        "|---|---|---|---|---|",
        f"| {many['j1']:.0f} ms | {many['j2']:.0f} ms | {many['per_target']:.0f} ms "
        f"| {many['j1'] / many['j2']:.2f}x | {many['per_target'] / many['j2']:.2f}x |",
        "",
        f"Goal (issue 18): -j2 >= 1.8x faster than -j1: "
        f"{'met' if many['j1'] / many['j2'] >= 1.8 else 'not met'}.",
        "",
        "## 5. Peak memory of the pipeline, 4 MiB image",
        "",
        "| image | peak RSS above the inputs | Python allocations (tracemalloc peak) | goal (3x image) |",
        "|---|---|---|---|",
        f"| {memory['size'] / MIB:g} MiB | {(memory['rss_peak'] - memory['rss_before']) / MIB:.1f} MiB "
        f"| {memory['traced_peak'] / MIB:.1f} MiB | {3 * memory['size'] / MIB:g} MiB |",
        "",
    ]
    if scale is not None:
        from scale import report_lines

        lines += [*report_lines(scale["sizes"], scale["steps"], scale["load"]), ""]
    if sign is not None:
        lines += [
            "## 7. `fwbuild sign --target` against `imgtool sign` (whole commands, start-up included)",
            "",
            "| target | image | key | fwbuild sign | imgtool sign | ratio | same bytes | goal: no slower |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for row in sign:
            ratio = row["fwbuild"] / row["imgtool"]
            lines.append(
                f"| {row['target']} | {row['size'] / 1024:g} KiB | {row['key']} | {row['fwbuild']:.0f} ms "
                f"| {row['imgtool']:.0f} ms | {ratio:.2f}x | {_same(row)} "
                f"| {'met' if ratio <= 1.0 else 'not met'} |"
            )
        lines += [
            "",
            "Same options on both sides: header, slot size, write size, version 1.0.0, security"
            " counter, key. Ed25519 signatures are deterministic, so those images match byte for"
            " byte; imgtool's ECDSA signatures are randomised, so there the header and payload"
            " are compared. K64F's slot holds"
            " 496 KiB, so its row signs 480 KiB; the 1 MiB image is signed for MPS2_AN385.",
            "",
        ]
    return "\n".join(lines)


def _same(row: dict) -> str:
    verdict = "yes" if row["same"] else "NO"
    return verdict if row["key"] == "Ed25519" else f"{verdict} (header and payload)"


REPEAT = 7


def main() -> None:
    global REPEAT
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 repetitions instead of 7")
    parser.add_argument("--write", action="store_true", help="rewrite bench/RESULTS.md")
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        help="section 6's numbers of files (default 10 100 500 2000; --quick: 10 100)",
    )
    parser.add_argument("--no-scale", action="store_true", help="leave out section 6")
    parser.add_argument("--memory-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(Path(args.memory_child[0]), args.memory_child[1])
        return
    if args.quick:
        REPEAT = 3
    sizes = args.sizes or ([10, 100] if args.quick else [10, 100, 500, 2000])
    sys.path.insert(0, str(REPO / "bench"))
    import scale as scale_bench

    load = scale_bench.load_average()
    with tempfile.TemporaryDirectory(prefix="fwbuild-bench-") as tmp:
        work = Path(tmp)
        pipeline = bench_pipeline(work)
        null = bench_null_build(work)
        offset = bench_offset_change(work)
        many = bench_many_targets(work)
        memory = bench_memory(work)
        sign = bench_sign(work)
        scale = (
            None
            if args.no_scale
            else scale_bench.bench_scale(work / "scale", sizes, REPEAT if args.quick else 5)
        )
    text = report(pipeline, null, offset, many, memory, scale, sign, load)
    print(text)
    if args.write:
        (REPO / "bench" / "RESULTS.md").write_text(text)


if __name__ == "__main__":
    main()
