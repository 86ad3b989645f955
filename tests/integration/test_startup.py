"""fwbuild's default start-up code: a repo with only main.c boots; one that brings its own
start-up links exactly as with the default switched off."""

from __future__ import annotations

import json

from elftools.elf.elffile import ELFFile


def _symbols(elf) -> dict[str, int]:
    with open(elf, "rb") as stream:
        table = ELFFile(stream).get_section_by_name(".symtab")
        return {s.name: s["st_value"] for s in table.iter_symbols() if s.name}


def _vectors(fw, elf, count: int) -> list[int]:
    """The first ``count`` words of the program's vector table, as flashed."""
    start = _symbols(elf)["__isr_vector_start"]
    data = fw.flash_bytes(fw.load_segments(elf), start, 4 * count)
    assert data is not None
    return [int.from_bytes(data[i : i + 4], "little") for i in range(0, len(data), 4)]


def test_repo_with_only_main_boots(fw, tmp_path):
    src = fw.PROJECTS / "main_only"
    version = json.loads((src / "fwbuild.json").read_text())["version"]
    build = fw.build_copy(src, tmp_path / "main_only", "MAIN_ONLY_AN385", "run").require_ok()
    assert f"main_only {version} ok" in build.result.output.splitlines(), build.result.describe()

    symbols = _symbols(build.elf)
    assert "__fwbuild_vector_table" in symbols
    vectors = _vectors(fw, build.elf, 16 + 4)
    assert vectors[1] == symbols["Reset_Handler"] | 1
    # IRQ 0 is named in the target file and defined in main.c; IRQ 1 is named but not
    # defined (Default_Handler); IRQ 2 is null in the list.
    assert vectors[16] == symbols["UART0RX_IRQHandler"] | 1
    assert vectors[16 + 1] == vectors[16 + 2] == symbols["Default_Handler"] | 1
    assert vectors[0] == symbols["__StackTop"]


def test_own_startup_links_as_without_the_default(fw, tmp_path):
    """boot_at_zero brings its own start-up code: the default is built but never linked, so
    the program is byte for byte the one FW_STARTUP=False gives."""
    src = fw.PROJECTS / "boot_at_zero"
    default = fw.build_copy(src, tmp_path / "default", "MPS2_AN385").require_ok()
    off = fw.copy_project(src, tmp_path / "off")
    sconstruct = off / "SConstruct"
    text = sconstruct.read_text().replace(
        "toolpath=[fwbuild.scons_toolpath()])", "toolpath=[fwbuild.scons_toolpath()], FW_STARTUP=False)"
    )
    assert text != sconstruct.read_text()
    sconstruct.write_text(text)
    switched_off = fw.Build(off, "MPS2_AN385", fw.run_scons(off, "MPS2_AN385")).require_ok()

    assert "__fwbuild_vector_table" not in _symbols(default.elf)
    assert "AR" in {verb for verb, _ in default.result.steps}
    assert "AR" not in {verb for verb, _ in switched_off.result.steps}
    for name in ("app.bin", "app.hex"):
        assert (default.dir / name).read_bytes() == (switched_off.dir / name).read_bytes(), name
    status, text = fw.run_qemu(default.dir / "app.bin")
    assert status == 0, text


def test_example_brings_its_own_startup(example_build):
    """The example switches the default off (FW_STARTUP=False): it builds no archive."""
    build = example_build("K64F")
    assert not (build.dir / "fwbuild-startup").exists()
    assert "__fwbuild_vector_table" not in _symbols(build.elf)
