"""The three-stage boot chain the unit tests lay out: selector, bootloader in two slots,
application in two slots (the example's design on MPS2_AN385, smaller)."""

from __future__ import annotations

from typing import Any


def three_stage_chain(state_size: str | None = "0x1000", **application: Any) -> dict[str, Any]:
    """A fresh ``boot_chain`` value; ``application`` adds keys to the last stage."""
    chain: dict[str, Any] = {
        "stages": [
            {"stage": "selector", "image": "@selector", "size": "0x8000"},
            {
                "stage": "bootloader",
                "image": "@bootloader",
                "slots": 2,
                "size": "0x10000",
                "header_size": "0x400",
            },
            {"stage": "application", "slots": 2, "header_size": "0x400", **application},
        ],
    }
    if state_size is not None:
        chain["state_size"] = state_size
    return chain
