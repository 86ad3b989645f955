"""A trailer the target's flash cannot take is refused when the project is resolved."""

from __future__ import annotations

import pytest

from fwbuild.errors import ConfigError
from fwbuild.resolve import resolve

LAYOUT = {"bootloader_img": "@bootloader", "bootloader_size": "0x8000", "header_offset": "0x8000"}
LAYOUT["app_offset"] = "0x8400"


@pytest.mark.parametrize("key", ["pad", "confirm"])
def test_page_written_flash_refuses_a_trailer(ws, key):
    ws.project(name="p", version="1.0.0", signing={key: True}, target_overrides={"LPC55S69": LAYOUT})
    with pytest.raises(ConfigError) as caught:
        resolve(ws.root, "LPC55S69")
    text = " ".join(str(caught.value).split())
    assert f"fwbuild.json: signing.{key}: LPC55S69 writes flash in 512-byte units" in text, text
    assert "LPC55S69.json" in text and f"remove signing.{key}" in text


def test_without_a_trailer_it_resolves(ws):
    ws.project(name="p", version="1.0.0", target_overrides={"LPC55S69": LAYOUT})
    assert resolve(ws.root, "LPC55S69").layout.write_size == 512
