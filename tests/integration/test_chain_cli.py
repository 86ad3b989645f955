"""The command line on a boot chain, against real builds of tests/projects/chain:
``fwbuild sign --stage --slot`` gives each slot image of the build byte for byte (the
stage's version, the signing options of fwbuild.json), ``fwbuild verify --stage --slot``
checks an image against that slot, and ``fwbuild layout`` shows every slot."""

from __future__ import annotations

import json

import pytest

# (stage, program) of the stages that are signed, and their versions in the fixture
SIGNED = (("bootloader", "bootloader"), ("application", "app"))
VERSIONS = {"bootloader": "0.9.0", "application": "1.2.3"}
# NUCLEO_F429ZI is built with every signing option fwbuild.json has, so that the command
# line is shown to read each of them from the project.
OPTIONS = {"security_counter": 9, "custom_tlvs": {"0xa0": "0102"}, "confirm": True}


@pytest.fixture(scope="module")
def chain_build(fw, tmp_path_factory, key_files):
    """chain_build(target): the fixture built once per module (in the test body that asks)."""
    built = {}

    def get(target: str):
        if target not in built:
            project = fw.copy_project(
                fw.PROJECTS / "chain", tmp_path_factory.mktemp(f"cli-{target}") / "chain"
            )
            if target == "NUCLEO_F429ZI":
                fw.edit_project(project, signing=OPTIONS)
            result = fw.run_scons(project, target, f"sign_key={key_files['ed25519']}")
            built[target] = fw.Build(project, target, result)
        return built[target].require_ok()

    return get


def slots(build):
    """(stage, program, slot index) of every signed slot in the build's layout.json."""
    programs = dict(SIGNED)
    return [
        (r["stage"], programs[r["stage"]], r["slot"])
        for r in build.layout()["regions"]
        if r.get("header_size")
    ]


@pytest.mark.parametrize("target", ["MPS2_AN385", "NUCLEO_F429ZI"])
def test_sign_gives_every_slot_image_of_the_build(fw, chain_build, key_files, tmp_path, target):
    build = chain_build(target)
    found = slots(build)
    assert sorted(found) == [
        ("application", "app", 0),
        ("application", "app", 1),
        ("bootloader", "bootloader", 0),
        ("bootloader", "bootloader", 1),
    ]
    for stage, program, index in found:
        folder = build.dir / stage / f"slot{index}"
        for suffix in (".bin", ".hex"):  # a .hex at the slot's start, as the build writes it
            out = tmp_path / f"{stage}-{index}{suffix}"
            result = fw.run_fwbuild(
                "sign", folder / f"{program}.bin", out, "--target", target, "--project", build.project,
                "--stage", stage, "--slot", str(index), "--key", key_files["ed25519"],
            )  # fmt: skip
            assert result.returncode == 0, result.describe()
            assert out.read_bytes() == (folder / f"{program}-signed{suffix}").read_bytes(), (
                stage,
                index,
                suffix,
            )
        inspect = fw.run_fwbuild("inspect", tmp_path / f"{stage}-{index}.bin")
        assert ["version", VERSIONS[stage]] in [line.split() for line in inspect.stdout.splitlines()], (
            inspect.describe()
        )
    if target == "NUCLEO_F429ZI":  # confirm pads to the slot size: the slot of the layout
        sizes = {r["name"]: r["size"] for r in build.layout()["regions"]}
        assert (tmp_path / "bootloader-1.bin").stat().st_size == sizes["bootloader.1"]
        assert (tmp_path / "application-0.bin").stat().st_size == sizes["application.0"]


def test_version_overrides_the_stage_version(fw, chain_build, key_files, tmp_path):
    build = chain_build("MPS2_AN385")
    folder = build.dir / "bootloader" / "slot1"
    common = ["--target", "MPS2_AN385", "--project", build.project, "--stage", "bootloader", "--slot", "1"]
    key = ["--key", key_files["ed25519"]]
    same = fw.run_fwbuild(
        "sign", folder / "bootloader.bin", tmp_path / "same.bin", *common, *key, "--version", "0.9.0"
    )
    newer = fw.run_fwbuild(
        "sign", folder / "bootloader.bin", tmp_path / "new.bin", *common, *key, "--version", "1.0.1"
    )
    assert same.returncode == newer.returncode == 0, same.describe() + newer.describe()
    assert (tmp_path / "same.bin").read_bytes() == (folder / "bootloader-signed.bin").read_bytes()
    assert (tmp_path / "new.bin").read_bytes() != (folder / "bootloader-signed.bin").read_bytes()
    check = fw.run_fwbuild("verify", tmp_path / "new.bin", *common, *key)
    assert check.returncode == 0 and "MCUboot image 1.0.1" in check.stdout, check.describe()


@pytest.mark.parametrize("target", ["MPS2_AN385", "NUCLEO_F429ZI"])
def test_verify_accepts_each_image_in_its_own_slot(fw, chain_build, key_files, target):
    build = chain_build(target)
    for stage, program, index in slots(build):
        for suffix in (".bin", ".hex"):
            image = build.dir / stage / f"slot{index}" / f"{program}-signed{suffix}"
            result = fw.run_fwbuild(
                "verify", image, "--target", target, "--project", build.project,
                "--stage", stage, "--slot", str(index), "--key", key_files["ed25519"],
            )  # fmt: skip
            assert result.returncode == 0 and result.stdout.startswith("valid:"), result.describe()
            assert f"MCUboot image {VERSIONS[stage]}" in result.stdout, result.describe()


def verify(fw, build, image, stage, index, *more):
    return fw.run_fwbuild(
        "verify", image, "--target", build.target, "--project", build.project,
        "--stage", stage, "--slot", str(index), *more,
    )  # fmt: skip


def test_verify_refuses_an_image_in_another_slot(fw, chain_build, key_files, tmp_path):
    build = chain_build("MPS2_AN385")
    for stage, program, _ in slots(build):
        image = build.dir / stage / "slot0" / f"{program}-signed.bin"
        # the same size and header: the program was linked for slot 0, and runs in place
        result = verify(fw, build, image, stage, 1, "--key", key_files["ed25519"])
        assert result.returncode == 1 and result.stdout.startswith("invalid:"), result.describe()
        assert "slot: its reset vector" in result.stdout and f"{stage}.1" in result.stdout, result.describe()
        hex_image = build.dir / stage / "slot1" / f"{program}-signed.hex"
        moved = verify(fw, build, hex_image, stage, 0)  # slot 1's .hex: its addresses are slot 1's
        assert moved.returncode == 1 and "slot: the .hex starts at" in moved.stdout, moved.describe()


def test_verify_refuses_a_slot_0_image_where_slot_1_differs(fw, chain_build, key_files, tmp_path):
    """A slot-0 image checked against slot 1 of a layout whose slot 1 differs in header size,
    then in size: the layout of a copy changed after the build (slot 0 as built)."""
    build = chain_build("MPS2_AN385")
    app = build.dir / "application" / "slot0" / "app.bin"
    padded = tmp_path / "padded.bin"  # fills application.0, as pad: true would
    result = fw.run_fwbuild(
        "sign", app, padded, "--target", "MPS2_AN385", "--project", build.project,
        "--stage", "application", "--slot", "0", "--pad", "--key", key_files["ed25519"],
    )  # fmt: skip
    assert result.returncode == 0, result.describe()
    application = build.region("application.0")
    assert padded.stat().st_size == application["size"]

    changed = fw.copy_project(build.project, tmp_path / "changed")
    config = json.loads((changed / "fwbuild.json").read_text())
    stages = config["target_overrides"]["MPS2_AN385"]["boot_chain"]["stages"]
    stages[-1]["header_size"] = "0x800"
    (changed / "fwbuild.json").write_text(json.dumps(config))
    result = fw.run_fwbuild(
        "verify",
        padded,
        "--target",
        "MPS2_AN385",
        "--project",
        changed,
        "--stage",
        "application",
        "--slot",
        "1",
    )
    assert result.returncode == 1, result.describe()
    assert "sizes: header size 0x400, application.1" in result.stdout and "0x800" in result.stdout, (
        result.describe()
    )

    stages[-1]["header_size"] = "0x400"
    stages[-1]["size"] = "0x80000"  # application.1 is now a quarter of the slot the image fills
    (changed / "fwbuild.json").write_text(json.dumps(config))
    result = fw.run_fwbuild(
        "verify",
        padded,
        "--target",
        "MPS2_AN385",
        "--project",
        changed,
        "--stage",
        "application",
        "--slot",
        "1",
    )
    assert result.returncode == 1, result.describe()
    assert f"sizes: {application['size']} bytes do not fit application.1" in result.stdout, result.describe()
    # and the image built for slot 0 is still refused there for where it runs
    small = build.dir / "application" / "slot0" / "app-signed.bin"
    result = fw.run_fwbuild(
        "verify",
        small,
        "--target",
        "MPS2_AN385",
        "--project",
        changed,
        "--stage",
        "application",
        "--slot",
        "1",
    )
    assert result.returncode == 1 and "slot: its reset vector" in result.stdout, result.describe()


def test_verify_on_a_chain_says_which_slot_to_give(fw, chain_build):
    build = chain_build("MPS2_AN385")
    image = build.dir / "application" / "slot0" / "app-signed.bin"
    result = fw.run_fwbuild("verify", image, "--target", "MPS2_AN385", "--project", build.project)
    assert result.returncode == 2 and result.stdout == "", result.describe()
    text = " ".join(result.stderr.split())
    assert text.startswith("error: MPS2_AN385 is a boot chain"), text
    assert "--stage STAGE --slot N" in text and "bootloader (--slot 0..1), application (--slot 0..1)" in text


@pytest.mark.parametrize("target", ["MPS2_AN385", "NUCLEO_F429ZI"])
def test_layout_prints_every_slot(fw, chain_build, target):
    build = chain_build(target)
    result = fw.run_fwbuild("layout", target, "--project", build.project)
    assert result.returncode == 0 and result.stderr == "", result.describe()
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{target} (chain): flash ")
    assert lines[1].split() == ["REGION", "STAGE", "SLOT", "START", "END", "SIZE", "HEADER", "PROGRAM"]
    rows = {line.split()[0]: line.split() for line in lines[2:]}
    regions = build.layout()["regions"]
    assert [r["name"] for r in regions] == [
        "selector", "bootloader.0", "bootloader.1", "application.0", "application.1", "boot_state"
    ]  # fmt: skip
    for region in regions:
        row = rows[region["name"]]
        start, end = region["start"], region["start"] + region["size"]
        assert row[3:5] == [f"0x{start:08X}", f"0x{end:08X}"], row
        if "stage" in region:
            header = region["header_size"]
            assert row[1:3] == [region["stage"], str(region["slot"])], row
            assert row[-2:] == [f"{header:#x}" if header else "-", f"0x{start + header:08X}"], row
        else:
            assert row[1:3] == ["-", "-"] and row[-2:] == ["-", "-"], row
    as_json = fw.run_fwbuild("layout", target, "--project", build.project, "--json")
    assert as_json.stdout == (build.dir / "layout.json").read_text(), as_json.describe()
