"""Boot chains: boot_chain -> stages in slots on the real sector map, and every error path."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from chain_configs import three_stage_chain

from fwbuild.chain import plan_chain
from fwbuild.errors import ConfigError
from fwbuild.targets import Sourced, TargetSet

THREE = three_stage_chain()
CONFIG = Path("/repo/fwbuild.json")


def plan(target: str, chain: dict, segments=lambda path, base: []):
    t = TargetSet().resolve(target)
    return plan_chain(t, Sourced(chain, CONFIG), 256, segments)


def slots(stages):
    return [(s.region, s.start, s.size, s.header_size) for stage in stages for s in stage.slots]


def test_three_stages_on_uniform_sectors():
    stages, state = plan("MPS2_AN385", THREE)
    assert [s.name for s in stages] == ["selector", "bootloader", "application"]
    assert [s.program for s in stages] == ["selector", "bootloader", "app"]
    assert slots(stages) == [
        ("selector", 0, 0x8000, 0),
        ("bootloader.0", 0x8000, 0x10000, 0x400),
        ("bootloader.1", 0x18000, 0x10000, 0x400),
        # the rest of the 4 MiB before the 4 KiB state region, split evenly on 4 KiB sectors
        ("application.0", 0x28000, 0x1EB000, 0x400),
        ("application.1", 0x213000, 0x1EB000, 0x400),
    ]
    assert (state.name, state.start, state.size) == ("boot_state", 0x3FF000, 0x1000)
    app = stages[2].slots[1]
    assert (app.program_start, app.program_size) == (0x213400, 0x1EB000 - 0x400)


def test_two_stages_without_state():
    chain = {"stages": [THREE["stages"][1] | {"slots": 1, "header_size": None}, THREE["stages"][2]]}
    del chain["stages"][0]["header_size"]
    del chain["stages"][0]["slots"]
    stages, state = plan("K64F", chain)
    assert state is None
    assert slots(stages) == [
        ("bootloader", 0, 0x10000, 0),
        ("application.0", 0x10000, 0x78000, 0x400),
        ("application.1", 0x88000, 0x78000, 0x400),
    ]


@pytest.mark.parametrize("count", [1, 2, 3, 4])
def test_one_to_four_application_slots(count):
    chain = copy.deepcopy(THREE)
    chain["stages"][2]["slots"] = count
    stages, state = plan("K64F", chain)
    app = stages[2].slots
    assert len(app) == count
    assert all(s.start % 0x1000 == 0 and s.size % 0x1000 == 0 for s in app)
    assert app[-1].end <= state.start
    assert all(a.end == b.start for a, b in zip(app, app[1:]))


def test_non_uniform_sectors_f429():
    chain = copy.deepcopy(THREE)
    chain["stages"][0]["size"] = "0x20000"  # 4 x 16 KiB + 64 KiB
    chain["stages"][1]["size"] = "0x20000"  # one 128 KiB sector each
    stages, state = plan("NUCLEO_F429ZI", chain)
    assert slots(stages)[:3] == [
        ("selector", 0x08000000, 0x20000, 0),
        ("bootloader.0", 0x08020000, 0x20000, 0x400),
        ("bootloader.1", 0x08040000, 0x20000, 0x400),
    ]
    app = stages[2].slots
    assert app[0].start == 0x08060000 and app[1].start == app[0].end
    assert app[1].start % 0x20000 == 0 and app[1].end <= state.start
    assert (state.start, state.size) == (0x081E0000, 0x20000)  # one 128 KiB sector at the end


@pytest.mark.parametrize(
    "edit, key, words",
    [
        (lambda c: c["stages"][1].update(size="0x10100"), r"stages\[1\] \(bootloader\)\.size", "inside a"),
        (lambda c: c["stages"][1].update(size="0x400"), r"stages\[1\] \(bootloader\)\.size", "no room"),
        (lambda c: c["stages"][1].update(slots=9), r"stages\[1\] \(bootloader\)\.slots", "1 to 8"),
        (lambda c: c["stages"][0].update(slots=2), r"stages\[0\] \(selector\)\.slots", "one slot"),
        (lambda c: c["stages"][0].update(header_size="0x400"), r"\(selector\)\.header_size", "no header"),
        (lambda c: c["stages"][1].pop("header_size"), r"\(bootloader\)\.header_size", "required"),
        (lambda c: c["stages"][1].update(header_size="0x410"), r"\(bootloader\)\.header_size", "aligned"),
        (lambda c: c["stages"][1].update(header_size="0x10"), r"\(bootloader\)\.header_size", "MCUboot"),
        (lambda c: c["stages"][1].update(size="0x400000"), r"\(bootloader\)\.size", "runs past"),
        (lambda c: c["stages"][1].update(image="mcuboot.bin"), r"\(bootloader\)\.image", "2 slots"),
        (lambda c: c["stages"][1].update(image="@selector"), r"\(bootloader\)\.image", "does not name"),
        (lambda c: c["stages"][1].pop("image"), r"\(bootloader\)\.image", "required"),
        (lambda c: c["stages"][2].update(image="@application"), r"\(application\)\.image", "last stage"),
        (lambda c: c["stages"][0].pop("size"), r"\(selector\)\.size", "required"),
        (lambda c: c["stages"][2].update(stage="selector"), r"\(selector\)\.stage", "second stage"),
        (lambda c: c["stages"][2].update(stage="App"), r"stages\[2\]\.stage", "not a stage name"),
        (lambda c: c.update(state_size="0x3D7000"), r"\(application\)\.slots", "do not fit"),
        (lambda c: c["stages"][1].update(version="1.2"), r"\(bootloader\)\.version", "not a version"),
        (lambda c: c["stages"][1].update(colour="red"), r"\(bootloader\)\.colour", "unknown key"),
        (lambda c: c.update(state_size="0x400000"), "boot_chain.state_size", "whole flash"),
        (lambda c: c.update(stages=c["stages"][:1]), "boot_chain.stages", "at least two"),
        (lambda c: c.update(extra=1), "boot_chain.extra", "unknown key"),
    ],
)
def test_errors_name_the_stage_and_key(edit, key, words):
    chain = copy.deepcopy(THREE)
    edit(chain)
    with pytest.raises(ConfigError, match=key) as caught:
        plan("MPS2_AN385", chain)
    message = str(caught.value)
    assert message.startswith(str(CONFIG)) and words in message, message


def test_a_prebuilt_image_must_fit_its_slot(tmp_path):
    image = tmp_path / "selector.bin"
    image.write_bytes(b"\0" * 0x9000)
    chain = copy.deepcopy(THREE)
    chain["stages"][0]["image"] = "selector.bin"
    t = TargetSet().resolve("MPS2_AN385")
    with pytest.raises(ConfigError, match=r"\(selector\)\.image: selector.bin covers"):
        plan_chain(t, Sourced(chain, tmp_path / "fwbuild.json"), 256, lambda p, b: [(b, b + 0x9000)])
    stages, _ = plan_chain(t, Sourced(chain, tmp_path / "fwbuild.json"), 256, lambda p, b: [(b, b + 0x2000)])
    assert stages[0].image == str(image) and not stages[0].built
