"""Hooks a firmware repo registers in its SConstruct with env.FirmwarePostBuild()."""

from __future__ import annotations

import hashlib
import json
import struct

import pytest

EPOCH = "1700000000"

REPORT_HOOK = """
import json

def report(ctx):
    data = open(ctx.image, "rb").read()
    with open(ctx.output, "w") as out:
        json.dump({
            "hook": ctx.hook, "stage": ctx.stage, "target": ctx.target,
            "image": ctx.image.name, "sha256": __import__("hashlib").sha256(data).hexdigest(),
            "application": ctx.layout.application.start,
            "outputs": sorted(ctx.outputs), "all_exist": all(p.is_file() for p in ctx.outputs.values()),
        }, out)
"""


def write_sconstruct(project, body):
    (project / "SConstruct").write_text(
        "import fwbuild\n"
        'env = Environment(tools=["default", "fwbuild"], toolpath=[fwbuild.scons_toolpath()])\n'
        'env.Append(CPPPATH=[Dir("common")])\n'
        'common = Glob("common/*.c")\n'
        f"{body}\n"
        'Default(env.Firmware(Glob("app/*.c") + common))\n'
    )


@pytest.fixture
def managed(fw, tmp_path, monkeypatch):
    """The example on MPS2_AN385 with a prebuilt bootloader and an mbed-v2 header."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    project = fw.copy_project(fw.EXAMPLE, tmp_path / "project")
    (project / "boot.bin").write_bytes(b"\x00\x80\x00\x20\x01\x01\x00\x00" + bytes(0x1F8))
    fw.set_overrides(project, "MPS2_AN385", bootloader_img="boot.bin", header_format="mbed-v2")
    return project


def test_image_hook_gets_the_documented_context(fw, managed):
    write_sconstruct(managed, REPORT_HOOK + 'env.FirmwarePostBuild(report, output="report.json")')
    result = fw.run_scons(managed, "MPS2_AN385")
    assert result.returncode == 0, result.describe()
    out = managed / "build/MPS2_AN385"
    report = json.loads((out / "report.json").read_text())
    layout = json.loads((out / "layout.json").read_text())
    combined = (out / "combined.bin").read_bytes()
    assert report["hook"] == "report" and report["stage"] == "image" and report["target"] == "MPS2_AN385"
    assert report["image"] == "combined.bin" and report["sha256"] == hashlib.sha256(combined).hexdigest()
    assert report["application"] == fw.region_of(layout, "application")["start"]
    assert {"app.elf", "app.map", "app.bin", "app-signed.bin", "combined.hex", "layout.json"} <= set(
        report["outputs"]
    )
    assert report["all_exist"]
    assert "HOOK report build/MPS2_AN385/report.json" in fw.log_lines(result.stdout)

    again = fw.run_scons(managed, "MPS2_AN385")
    assert again.steps == [] and "HOOK" not in again.stdout, again.describe()  # the hook does not rerun

    main = managed / "app/main.c"
    main.write_text(main.read_text() + "\nint fw_extra_symbol = 7;\n")
    changed = fw.run_scons(managed, "MPS2_AN385")
    assert changed.returncode == 0, changed.describe()
    assert "HOOK report build/MPS2_AN385/report.json" in fw.log_lines(changed.stdout)
    new_combined = (out / "combined.bin").read_bytes()
    assert json.loads((out / "report.json").read_text())["sha256"] == hashlib.sha256(new_combined).hexdigest()


def test_link_hook_patches_the_application_before_the_header(fw, managed):
    hook = """
def stamp(ctx):
    data = open(ctx.image, "rb").read()
    open(ctx.output, "wb").write(data + b"STMP")
"""
    write_sconstruct(managed, hook + 'env.FirmwarePostBuild(stamp, stage="link")')
    result = fw.run_scons(managed, "MPS2_AN385")
    assert result.returncode == 0, result.describe()
    out = managed / "build/MPS2_AN385"
    app = (out / "app.bin").read_bytes()
    assert app.endswith(b"STMP")
    signed = (out / "app-signed.bin").read_bytes()
    # the mbed-v2 header's size and SHA-256 cover the patched bytes
    size = struct.unpack_from(">Q", signed, 16)[0]
    assert size == len(app) and signed[24:56] == hashlib.sha256(app).digest()


def test_command_hook_with_source_target_and_environment(fw, managed):
    write_sconstruct(
        managed,
        "env.FirmwarePostBuild(\"printf '%s:' $$FWBUILD_TARGET > $TARGET && cat $SOURCE >> $TARGET\", "
        'name="package", output="package.bin")',
    )
    result = fw.run_scons(managed, "MPS2_AN385")
    assert result.returncode == 0, result.describe()
    out = managed / "build/MPS2_AN385"
    assert (out / "package.bin").read_bytes() == b"MPS2_AN385:" + (out / "combined.bin").read_bytes()


@pytest.mark.parametrize(
    "body, message",
    [
        (
            "def broken(ctx):\n"
            "    open(ctx.output, 'wb').write(b'half')\n"
            "    raise RuntimeError('signing server unreachable')\n"
            'env.FirmwarePostBuild(broken, output="out.bin")',
            "post-build hook broken (image stage) failed: RuntimeError: signing server unreachable",
        ),
        (
            'env.FirmwarePostBuild("sh -c \'echo half > $TARGET; exit 3\'", name="broken", output="out.bin")',
            "post-build hook broken (image stage) failed: `sh -c 'echo half >",
        ),
        (
            'def broken(ctx):\n    pass\nenv.FirmwarePostBuild(broken, output="out.bin")',
            "post-build hook broken wrote nothing to its output out.bin",
        ),
    ],
)
def test_failing_hook_stops_the_build_and_leaves_nothing(fw, managed, body, message):
    write_sconstruct(managed, body)
    result = fw.run_scons(managed, "MPS2_AN385")
    assert result.returncode == 2, result.describe()
    assert message in " ".join(result.stderr.split()), result.stderr
    assert "Traceback" not in result.output
    out = managed / "build/MPS2_AN385"
    assert (out / "combined.bin").is_file()  # the steps before the hook stand
    assert not (out / "out.bin").exists()
    assert not list(out.glob(".*tmp")), list(out.iterdir())


@pytest.mark.parametrize(
    "body, message",
    [
        ('env.FirmwarePostBuild("true", stage="sign")', "stage='sign' is not a stage"),
        ('env.FirmwarePostBuild("true", stage="link", output="x.bin")', "a link-stage hook writes"),
        ('env.FirmwarePostBuild("true")\nenv.FirmwarePostBuild("true")', "a hook named 'true' is already"),
        ('env.Firmware(Glob("app/*.c") + common)\nenv.FirmwarePostBuild("true")', "after env.Firmware()"),
    ],
)
def test_registration_mistakes(fw, managed, body, message):
    write_sconstruct(managed, body)
    result = fw.run_scons(managed, "MPS2_AN385")
    assert result.returncode == 2, result.describe()
    assert message in " ".join(result.stderr.split()), result.stderr
