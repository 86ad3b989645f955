"""A boot chain resolves into one checked Layout: layout.json, fwbuild_layout.h, linker
contexts and the Mbed layouts as the chains they amount to."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from chain_configs import three_stage_chain

from fwbuild.cheader import layout_header
from fwbuild.errors import ConfigError
from fwbuild.layout import compute_layout
from fwbuild.linker import linker_context
from fwbuild.targets import Sourced, TargetSet

CONFIG = Path("/project/fwbuild.json")
CHAIN = three_stage_chain(version="2.1.0")


def layout_of(name: str, **keys):
    target = TargetSet().resolve(name, {k: Sourced(v, CONFIG) for k, v in keys.items()})
    return compute_layout(target)


def test_layout_json_names_stages_and_slots():
    layout = layout_of("MPS2_AN385", boot_chain=CHAIN)
    data = json.loads(layout.to_json())
    assert data["mode"] == "chain"
    assert [(r["name"], r.get("stage"), r.get("slot"), r.get("header_size")) for r in data["regions"]] == [
        ("selector", "selector", 0, 0),
        ("bootloader.0", "bootloader", 0, 0x400),
        ("bootloader.1", "bootloader", 1, 0x400),
        ("application.0", "application", 0, 0x400),
        ("application.1", "application", 1, 0x400),
        ("boot_state", None, None, None),
    ]
    assert data["regions"][-1] == {"name": "boot_state", "start": 0x3FF000, "size": 0x1000}
    assert layout.application.start == 0x28400  # the application's first slot, after its header


def test_layout_header_defines_every_stage():
    text = layout_header(layout_of("MPS2_AN385", boot_chain=CHAIN))
    for line in (
        "#define FWBUILD_MODE_CHAIN 1",
        "#define SELECTOR_SLOTS 1u",
        "#define SELECTOR_HEADER_SIZE 0x00000000u",
        "#define SELECTOR_SLOT0_ADDR 0x00000000u",
        "#define BOOTLOADER_SLOTS 2u",
        "#define BOOTLOADER_SLOT_SIZE 0x00010000u",
        "#define BOOTLOADER_HEADER_SIZE 0x00000400u",
        "#define BOOTLOADER_SLOT1_ADDR 0x00018000u",
        "#define APPLICATION_SLOT0_ADDR 0x00028000u",
        "#define BOOT_STATE_ADDR 0x003FF000u",
        "#define BOOT_STATE_SIZE 0x00001000u",
    ):
        assert line in text.splitlines(), line
    assert "BOOTLOADER.0" not in text


def test_each_slot_links_at_its_own_start_and_sees_the_next_stage():
    layout = layout_of("MPS2_AN385", boot_chain=CHAIN)
    context = linker_context(layout, "bootloader.1")
    assert context["rom"] == {"name": "bootloader.1", "start": 0x18400, "size": 0x10000 - 0x400}
    assert context["slot"] == {
        "stage": "bootloader",
        "index": 1,
        "start": 0x18000,
        "size": 0x10000,
        "header_size": 0x400,
    }
    assert [r["name"] for r in context["regions"]] == [
        "bootloader.0",
        "bootloader.1",
        "application.0",
        "application.1",
        "boot_state",
    ]
    selector = linker_context(layout, "selector")
    assert selector["slot"]["header_size"] == 0
    assert "application.0" not in [r["name"] for r in selector["regions"]]


def test_the_mbed_layout_is_a_chain_of_two():
    layout = layout_of(
        "K64F",
        bootloader_img="@bootloader",
        bootloader_size="0x8000",
        header_offset="0x8000",
        app_offset="0x8400",
    )
    assert layout.mode == "managed"
    assert [(s.name, s.program, s.image, s.header_size) for s in layout.stages] == [
        ("bootloader", "bootloader", "@bootloader", 0),
        ("application", "app", None, 0x400),
    ]
    app = layout.stages[1].slots[0]
    assert (app.region, app.start, app.program_start, app.end) == ("application", 0x8000, 0x8400, 0x100000)
    assert linker_context(layout, "application")["slot"] is None  # Mbed scripts stay as they were
    assert "stages" not in json.loads(layout.signature())


def test_plain_layout_is_one_stage():
    layout = layout_of("K64F")
    assert [(s.name, s.slots[0].start, s.slots[0].header_size) for s in layout.stages] == [
        ("application", 0, 0)
    ]
    assert not layout.has_headers


@pytest.mark.parametrize("key", ["bootloader_img", "app_offset", "mbed_app_start", "restrict_size"])
def test_mixing_with_mbed_keys_names_both(key):
    with pytest.raises(ConfigError, match=rf"boot_chain: boot_chain mixed with the Mbed layout key '{key}'"):
        layout_of(
            "MPS2_AN385", boot_chain=CHAIN, **{key: "@bootloader" if key == "bootloader_img" else "0x8000"}
        )


def test_a_core_without_vtor_chains_through_the_forwarding_word(ws):
    ws.target("M0_BOARD", {"inherits": "MPS2_AN385", "core": "cortex-m0", "description": "an M0"})
    target = TargetSet([ws.targets_dir]).resolve("M0_BOARD", {"boot_chain": Sourced(CHAIN, CONFIG)})
    assert compute_layout(target).vector_forward == 0x20000000


def test_a_chain_in_a_target_file(ws):
    ws.target("CHAIN_BOARD", {"inherits": "MPS2_AN385", "description": "chained", "boot_chain": CHAIN})
    layout = compute_layout(TargetSet([ws.targets_dir]).resolve("CHAIN_BOARD"))
    assert layout.mode == "chain" and layout.stages[2].version == "2.1.0"


def test_slots_too_small_for_the_vector_table():
    chain = copy.deepcopy(CHAIN)
    chain["stages"][2].update(slots=1, size="0x1080", header_size="0x1000")
    with pytest.raises(ConfigError, match="application.0 holds 128 bytes after its header"):
        layout_of("MPS2_AN385", boot_chain=chain)
