"""The generated ``fwbuild_layout.h``: region addresses for C code that needs them."""

from __future__ import annotations

from fwbuild.layout import Layout


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
    for region in layout.regions:
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
        "#endif /* FWBUILD_LAYOUT_H */",
        "",
    ]
    return "\n".join(lines)
