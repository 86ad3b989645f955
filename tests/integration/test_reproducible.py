"""Reproducible release builds: the same sources give the same bytes in any folder, a
shared cache serves a second checkout without compiling, and build-info.json lets a
release engineer check a rebuild."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

EPOCH = "1700000000"


@pytest.fixture(autouse=True)
def fixed_epoch(monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)


def outputs(build_dir: Path) -> dict[str, bytes]:
    return {
        p.relative_to(build_dir).as_posix(): p.read_bytes()
        for p in sorted(build_dir.rglob("*"))
        if p.is_file()
    }


def checkout(fw, where: Path) -> Path:
    return fw.copy_project(fw.EXAMPLE, where)


@pytest.mark.parametrize("target", ["K64F", "MPS2_AN385"])
def test_two_folders_give_the_same_bytes(fw, tmp_path, key_files, target):
    first = checkout(fw, tmp_path / "a" / "fw")
    second = checkout(fw, tmp_path / "elsewhere" / "much" / "deeper" / "firmware-repo")
    for project in (first, second):
        result = fw.run_scons(project, target, "profile=release", f"sign_key={key_files['ecdsa-p256']}")
        assert result.returncode == 0, result.describe()
    one, two = outputs(first / "build" / target), outputs(second / "build" / target)
    if target == "MPS2_AN385":  # the example's boot chain
        app = "application/slot0/app.elf"
        expected = {app, "application/slot1/app-signed.bin", "bootloader/slot1/bootloader-signed.hex",
                    "selector/slot0/selector.elf", "fwbuild_keys.c", "combined.bin", "combined.hex",
                    "layout.json", "build-info.json"}  # fmt: skip
    else:
        app = "app.elf"
        expected = {app, "app.bin", "app.hex", "app-signed.bin", "app-signed.hex", "combined.bin",
                    "combined.hex", "layout.json", "build-info.json",
                    "bootloader/bootloader.elf"}  # fmt: skip
    assert expected <= set(one)
    assert sorted(one) == sorted(two)
    different = [name for name in one if one[name] != two[name]]
    assert different == [], f"differ between the two folders: {different}"
    assert str(first).encode() not in one[app]  # the checkout's path never reaches debug info


def test_changing_the_epoch_changes_only_the_timestamp(fw, tmp_path, monkeypatch):
    """With an Mbed header the epoch is the firmware timestamp: it and what covers it
    change (header CRC, slot image, merge, build-info), nothing else."""
    project = checkout(fw, tmp_path / "fw")
    fw.set_overrides(
        project, "K64F", bootloader_img="@bootloader", bootloader_size="0x8000", header_offset="0x8000",
        header_format="mbed-v2",
    )  # fmt: skip
    out = project / "build" / "K64F"
    assert fw.run_scons(project, "K64F").returncode == 0
    before = outputs(out)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(int(EPOCH) + 86400))
    result = fw.run_scons(project, "K64F")
    assert result.returncode == 0, result.describe()
    after = outputs(out)
    changed = sorted(name for name in before if before[name] != after[name])
    slot = ["app-signed.bin", "app-signed.hex", "app-signed.sig"]
    assert changed == [*slot, "build-info.json", "combined.bin", "combined.hex"]
    old, new = before["app-signed.bin"], after["app-signed.bin"]
    diff = [i for i in range(len(old)) if old[i] != new[i]]
    assert diff and all(8 <= i < 16 or 108 <= i < 112 for i in diff), diff  # timestamp and header CRC
    assert json.loads(after["build-info.json"])["source_date_epoch"] == str(int(EPOCH) + 86400)


def write_logging_wrapper(path: Path, log: Path) -> Path:
    path.write_text(f'#!/bin/sh\necho "$@" >> "{log}"\nexec "$@"\n')
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


def test_shared_cache_serves_another_checkout_without_compiling(fw, tmp_path):
    cache = tmp_path / "cache"
    log = tmp_path / "compiles.log"
    wrapper = write_logging_wrapper(tmp_path / "count-cc", log)
    args = [f"cache_dir={cache}", f"cc_prefix={wrapper}"]
    first = checkout(fw, tmp_path / "ci-agent-1" / "fw")
    result = fw.run_scons(first, "K64F", *args)
    assert result.returncode == 0, result.describe()
    assert len(log.read_text().splitlines()) == 9  # app 3 + bootloader 6 sources, through the wrapper
    log.unlink()

    second = checkout(fw, tmp_path / "ci-agent-2" / "checkout" / "fw")
    result = fw.run_scons(second, "K64F", *args)
    assert result.returncode == 0, result.describe()
    assert not log.exists(), "the second checkout compiled:\n" + log.read_text()
    assert result.count("CC") == 0 and result.count("LINK") == 0, result.describe()
    assert "Retrieved `build/K64F/app.elf' from cache" in result.stdout
    assert "Retrieved `build/K64F/bootloader/bootloader.elf' from cache" in result.stdout
    assert outputs(first / "build/K64F") == outputs(second / "build/K64F")

    cold = checkout(fw, tmp_path / "cold" / "fw")
    assert fw.run_scons(cold, "K64F").returncode == 0  # no cache: a cold build gives the same bytes
    assert outputs(cold / "build/K64F") == outputs(second / "build/K64F")


def test_verify_build_checks_outputs_and_toolchain(fw, tmp_path):
    project = checkout(fw, tmp_path / "fw")
    assert fw.run_scons(project, "K64F").returncode == 0
    info = project / "build/K64F/build-info.json"
    good = fw.run_fwbuild("verify-build", info)
    count = len(json.loads(info.read_text())["outputs"])
    assert count > 10 and good.returncode == 0 and good.stdout.startswith(f"ok: {count} outputs"), (
        good.describe()
    )

    combined = project / "build/K64F/combined.bin"
    combined.write_bytes(combined.read_bytes()[:-1] + b"\x00")
    record = json.loads(info.read_text())
    record["toolchain"]["cc"] = "arm-none-eabi-gcc (other) 9.9.9"
    info.write_text(json.dumps(record))
    bad = fw.run_fwbuild("verify-build", info)
    assert bad.returncode == 1, bad.describe()
    assert "mismatch: combined.bin: SHA-256" in bad.stdout
    assert "mismatch: toolchain cc: arm-none-eabi-gcc is" in bad.stdout and "9.9.9" in bad.stdout


def test_build_info_records_what_a_release_needs(fw, tmp_path, key_files):
    project = checkout(fw, tmp_path / "fw")
    result = fw.run_scons(project, "MPS2_AN385", "profile=release", f"sign_key={key_files['ed25519']}")
    assert result.returncode == 0, result.describe()
    info = json.loads((project / "build/MPS2_AN385/build-info.json").read_text())
    assert info["source_date_epoch"] == EPOCH and info["profile"] == "release"
    assert info["signature"] == "ed25519, deterministic" and len(info["signing_key_sha256"]) == 64
    assert "arm-none-eabi-gcc" in info["toolchain"]["cc"] and "objcopy" in info["toolchain"]["objcopy"]
    assert {"fwbuild", "scons", "cryptography", "intelhex", "pyelftools"} <= set(info["packages"])
    assert len(info["config_sha256"]) == 64
    text = json.dumps(info)
    assert str(project) not in text and str(key_files["ed25519"]) not in text


@pytest.mark.parametrize("profile, status", [("debug", 0), ("release", 2)])
def test_pinned_compiler(fw, tmp_path, key_files, profile, status):
    project = checkout(fw, tmp_path / "fw")
    fw.edit_project(project, toolchain={"gcc": "9.3.1"})
    result = fw.run_scons(project, "K64F", f"profile={profile}", f"sign_key={key_files['ecdsa-p256']}")
    assert result.returncode == status, result.describe()
    text = " ".join(result.stderr.split())
    assert "toolchain.gcc: the project pins 9.3.1 but arm-none-eabi-gcc is 12." in text, text
    found = subprocess.run(["arm-none-eabi-gcc", "-dumpversion"], capture_output=True, text=True).stdout
    fw.edit_project(project, toolchain={"gcc": ".".join(found.strip().split(".")[:2])})
    again = fw.run_scons(project, "K64F", f"profile={profile}", f"sign_key={key_files['ecdsa-p256']}")
    assert again.returncode == 0 and "toolchain.gcc" not in again.stderr, again.describe()


def _kill_at_every_kind_of_step(fw, tmp_path, make_project, target, count):
    """SIGKILL the whole scons process group right after the log shows one of ``count``
    steps spread over the build, and every link, sign and merge; then build again: every
    output must equal a clean build's. Outputs are written to temporary names and renamed
    into place."""
    reference = make_project(tmp_path / "reference")
    clean = fw.run_scons(reference, target, jobs=1)
    assert clean.returncode == 0, clean.describe()
    expected = outputs(reference / f"build/{target}")
    steps = [f"{verb} {name}" for verb, name in clean.steps]
    assert any(s.startswith("SIGN") for s in steps) and any(s.startswith("MERGE") for s in steps)
    spread = {round(i * (len(steps) - 1) / (count - 1)) for i in range(count)}
    moments = sorted(spread | {steps.index(s) for s in steps if s.startswith(("LINK", "SIGN", "MERGE"))})

    killed_during = []
    for moment in moments:
        project = make_project(tmp_path / f"victim-{moment}")
        status = fw.kill_build_after(project, target, steps[moment])
        assert status == -signal.SIGKILL, f"the build was not killed during {steps[moment]}"
        killed_during.append(steps[moment])
        again = fw.run_scons(project, target)
        assert again.returncode == 0, f"after a kill during {steps[moment]}\n{again.describe()}"
        got = {k: v for k, v in outputs(project / f"build/{target}").items() if not k.endswith(".tmp")}
        wrong = sorted(k for k in expected if got.get(k) != expected[k])
        assert not wrong, f"after a kill during {steps[moment]}: {wrong} differ from a clean build"
        assert sorted(got) == sorted(expected)
    assert len(moments) >= count and any(k.startswith("SIGN") for k in killed_during), killed_during


def test_killed_builds_lose_nothing(fw, tmp_path):
    """The one-stage layout (K64F), killed at 24 points or more."""
    _kill_at_every_kind_of_step(fw, tmp_path, lambda dest: checkout(fw, dest), "K64F", 24)


def test_killed_chain_builds_lose_nothing(fw, tmp_path, key_files):
    """A three-stage chain: kills during each slot's link and signing too."""

    def chain(dest: Path) -> Path:
        project = fw.copy_project(fw.PROJECTS / "chain", dest)
        shutil.copy(key_files["ed25519"], project / "signing.pem")
        fw.edit_project(project, signing={"key": "signing.pem"})
        return project

    _kill_at_every_kind_of_step(fw, tmp_path, chain, "MPS2_AN385", 8)


@pytest.fixture
def distccd():
    """Debian's distccd on 127.0.0.1 only, on a free port, stopped at the end. As root it
    drops to its own user, so its log lives in a folder anyone may write."""
    if shutil.which("distccd") is None or shutil.which("distcc") is None:
        pytest.fail("missing distcc/distccd: run ./setup.sh", pytrace=False)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # pytest's own folders are private to root; distccd's user must reach its log.
    folder = Path(tempfile.mkdtemp(prefix="fwbuild-distccd-"))
    folder.chmod(0o777)
    log = folder / "distccd.log"
    daemon = subprocess.Popen(
        ["distccd", "--daemon", "--no-detach", "--allow", "127.0.0.1", "--listen", "127.0.0.1",
         "--port", str(port), "--log-file", str(log), "--log-level", "info"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    try:
        for _ in range(100):  # until it listens
            with socket.socket() as client:
                if client.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        yield port, log
    finally:
        os.killpg(daemon.pid, signal.SIGTERM)  # the daemon and its pre-forked workers
        daemon.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


def test_distcc_farm_compiles_and_gives_the_same_bytes(fw, tmp_path, key_files, distccd, monkeypatch):
    port, log = distccd
    monkeypatch.setenv("DISTCC_HOSTS", f"127.0.0.1:{port}")
    monkeypatch.setenv("DISTCC_FALLBACK", "0")  # fail rather than quietly compile locally
    (tmp_path / "distcc-client").mkdir()
    monkeypatch.setenv("DISTCC_DIR", str(tmp_path / "distcc-client"))
    release = ["profile=release", f"sign_key={key_files['ecdsa-p256']}"]
    remote = checkout(fw, tmp_path / "remote" / "fw")
    result = fw.run_scons(remote, "K64F", "cc_prefix=distcc", *release)
    assert result.returncode == 0, result.describe()
    compiled = [line for line in log.read_text().splitlines() if "COMPILE_OK" in line]
    assert len(compiled) == 9, log.read_text()  # every source went through the daemon
    assert any("bootloader/sha256.c" in line for line in compiled)

    local = checkout(fw, tmp_path / "local" / "fw")
    assert fw.run_scons(local, "K64F", *release).returncode == 0
    assert outputs(remote / "build/K64F") == outputs(local / "build/K64F")
