"""The generated ``fwbuild_layout.h``: region addresses for C code that needs them."""

from __future__ import annotations

from fwbuild.layout import VECTOR_FORWARD_SIZE, Layout


def layout_header(layout: Layout) -> str:
    """Region defines; regions that do not exist are not defined (test with #ifdef)."""
    lines = [
        f"/* fwbuild_layout.h: generated from the {layout.target} layout. Do not edit. */",
        "#ifndef FWBUILD_LAYOUT_H",
        "#define FWBUILD_LAYOUT_H",
        "",
        f'#define FWBUILD_TARGET "{layout.target}"',
        f"#define FWBUILD_MODE_{layout.mode.upper()} 1",
        "",
    ]
    if layout.mode == "chain":
        lines += _stage_defines(layout)
    for region in layout.regions:
        if layout.mode == "chain" and layout.slot(region.name) is not None:
            continue  # slots are named by their stage's defines
        name = region.name.upper()
        lines.append(f"#define {name}_ADDR 0x{region.start:08X}u")
        lines.append(f"#define {name}_SIZE 0x{region.size:08X}u")
    ram = layout.main_ram_bank
    lines += [
        "",
        f"#define MBED_ROM_START 0x{layout.flash_start:08X}u",
        f"#define MBED_ROM_SIZE 0x{layout.flash_size:08X}u",
        f"#define MBED_RAM_START 0x{ram.start:08X}u",
        f"#define MBED_RAM_SIZE 0x{ram.size:08X}u",
        "",
    ]
    if layout.vector_forward is not None:
        lines += [
            "/* No VTOR: the first stage forwards every exception but reset to the vector table",
            " * whose address is in this word; a stage writes the next one's before it hands over. */",
            f"#define VECTOR_FORWARD_ADDR 0x{layout.vector_forward:08X}u",
            f"#define VECTOR_FORWARD_SIZE {VECTOR_FORWARD_SIZE}u",
            "",
        ]
    lines += [
        "#endif /* FWBUILD_LAYOUT_H */",
        "",
    ]
    return "\n".join(lines)


def _stage_defines(layout: Layout) -> list[str]:
    """Per stage: <STAGE>_SLOTS, _SLOT_SIZE, _HEADER_SIZE (0: none), _SLOT<N>_ADDR."""
    lines = []
    for stage in layout.stages:
        name = stage.name.upper()
        lines += [
            f"#define {name}_SLOTS {len(stage.slots)}u",
            f"#define {name}_SLOT_SIZE 0x{stage.slots[0].size:08X}u",
            f"#define {name}_HEADER_SIZE 0x{stage.header_size:08X}u",
        ]
        lines += [f"#define {name}_SLOT{s.index}_ADDR 0x{s.start:08X}u" for s in stage.slots]
        lines.append("")
    return lines
