"""The per-link steps' readers on a program of many objects and thousands of symbols: the
section sizes and stack (fwbuild.elfread), the symbols combined.elf takes, the bytes at an
address, and the per-object sizes from the linker's map all agree with what pyelftools and
the objects themselves say. One compile and one link, with the real cross compiler."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from fwbuild.elfcheck import program_symbols, read_flash_bytes
from fwbuild.elfread import open_elf
from fwbuild.errors import ImageError
from fwbuild.memmap import map_sizes, program_sizes, size_report_json

OBJECTS = 30
FUNCTIONS = 50  # per object: 1,500 functions, and as many long section names in the map
SCRIPT = """
MEMORY { FLASH (rx) : ORIGIN = 0x8000, LENGTH = 1M  RAM (rwx) : ORIGIN = 0x20000000, LENGTH = 64K }
SECTIONS {
  .isr_vector : { KEEP(*(.isr_vector)) } > FLASH
  .text : { *(.text*) *(.rodata*) } > FLASH
  .data : { *(.data*) } > RAM AT > FLASH
  .bss (NOLOAD) : { *(.bss*) *(COMMON) } > RAM
  .heap (NOLOAD) : { . += 0x800; } > RAM
  .stack (NOLOAD) : { __StackLimit = .; . += 0xC00; __StackTop = .; } > RAM
}
"""


def _compile(compiler: str, root: Path, sources: list[Path]) -> None:
    """One compiler run for every source: each gives its own .o in ``root``."""
    flags = ["-mcpu=cortex-m4", "-mthumb", "-O1", "-ffunction-sections", "-fdata-sections"]
    result = subprocess.run(
        [compiler, *flags, "-c", *(s.name for s in sources)], cwd=root, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def program(tmp_path_factory) -> Path:
    compiler = shutil.which("arm-none-eabi-gcc")
    if compiler is None:
        pytest.fail("arm-none-eabi-gcc not found: run ./setup.sh", pytrace=False)
    root = tmp_path_factory.mktemp("many")
    sources = []
    for i in range(OBJECTS):
        source = root / f"part_{i:02d}.c"
        lines = [
            f"unsigned f_{i}_{j}(unsigned x) {{ return x * {j + 3}u + {i}u; }}" for j in range(FUNCTIONS)
        ]
        lines.append(f"unsigned table_{i}[3] = {{{i}, 1, 2}};")
        lines.append(f"unsigned zeros_{i}[{i + 1}];")
        # names that end in the stack's symbol names: a reader must not take them for those
        lines.append(f"unsigned my__StackTop_{i}, x__StackLimit{i};")
        source.write_text("\n".join(lines) + "\n")
        sources.append(source)
    main = root / "main.c"
    main.write_text(
        "extern char __StackTop[];\n"
        "unsigned y__StackTop = 7;\n"
        "void Reset_Handler(void) { for (;;) {} }\n"
        '__attribute__((section(".isr_vector"), used))\n'
        "void *const vectors[2] = {__StackTop, Reset_Handler};\n"
    )
    _compile(compiler, root, [main, *sources])
    objects = [s.with_suffix(".o") for s in sources]
    (root / "app.ld").write_text(SCRIPT)
    elf = root / "app.elf"
    result = subprocess.run(
        [compiler, "-mcpu=cortex-m4", "-mthumb", "-nostartfiles", "-nostdlib", "-T", str(root / "app.ld"),
         str(root / "main.o"), *map(str, objects), "-o", str(elf), f"-Wl,-Map={root / 'app.map'}",
         "-Wl,--no-warn-rwx-segments"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return elf


def test_section_sizes_and_stack_match_pyelftools(program):
    sizes = program_sizes(program)
    with program.open("rb") as stream:
        elf = ELFFile(stream)
        alloc = {s.name: s for s in elf.iter_sections() if s["sh_flags"] & 2 and s["sh_size"]}
        table = elf.get_section_by_name(".symtab")
        assert table.num_symbols() > OBJECTS * FUNCTIONS
        top = table.get_symbol_by_name("__StackTop")[0]["st_value"]
        limit = table.get_symbol_by_name("__StackLimit")[0]["st_value"]
    assert sizes.stack == top - limit == 0xC00
    assert sizes.heap == alloc[".heap"]["sh_size"] == 0x800
    assert sizes.data == alloc[".data"]["sh_size"] > 0
    assert sizes.bss == alloc[".bss"]["sh_size"] + alloc[".stack"]["sh_size"]  # every NOBITS but .heap
    assert sizes.text == alloc[".isr_vector"]["sh_size"] + alloc[".text"]["sh_size"]


def test_symbols_and_flash_bytes_match_pyelftools(program):
    kinds = {"STT_FUNC": "function", "STT_OBJECT": "object"}
    with program.open("rb") as stream:
        elf = ELFFile(stream)
        expected = sorted(
            {
                (s.name, s["st_value"], kinds[s["st_info"]["type"]])
                for s in elf.get_section_by_name(".symtab").iter_symbols()
                if s["st_info"]["type"] in kinds and s.name and s["st_shndx"] != "SHN_UNDEF"
            }
        )
        text = elf.get_section_by_name(".text")
        start, body = text["sh_addr"], text.data()
    assert program_symbols(program) == expected
    assert ("f_29_49", next(a for n, a, _ in expected if n == "f_29_49"), "function") in expected
    assert read_flash_bytes(program, start + 16, 64) == body[16:80]
    assert read_flash_bytes(program, 0x7000, 4) is None  # below every segment


def test_symbol_values_take_whole_names_only(program):
    with open_elf(program) as elf:
        values = elf.symbol_values(["__StackTop", "y__StackTop", "no_such_symbol", "f_7_7"])
    with program.open("rb") as stream:
        table = ELFFile(stream).get_section_by_name(".symtab")
        for name in ("__StackTop", "y__StackTop", "f_7_7"):
            assert values[name] == table.get_symbol_by_name(name)[0]["st_value"]
    assert "no_such_symbol" not in values


def test_the_map_gives_each_object_its_own_sections(program):
    """Every object's bytes, summed from its own section headers (pyelftools on the .o),
    equal what the map says it put in the program, long section names included."""
    sizes = map_sizes((program.parent / "app.map").read_text())
    assert len(sizes) == OBJECTS + 1
    for obj in sorted(program.parent.glob("*.o")):
        with obj.open("rb") as stream:
            sections = [s for s in ELFFile(stream).iter_sections() if s["sh_flags"] & 2 and s["sh_size"]]
        expected = {"text": 0, "rodata": 0, "data": 0, "bss": 0}
        for s in sections:
            kind = "text" if s.name.startswith((".text", ".isr_vector")) else s.name[1:].split(".")[0]
            expected[kind] += s["sh_size"]
        key = next(k for k in sizes if k.endswith(obj.name))
        assert sizes[key] == expected, obj.name


def test_the_size_report_text_is_json_dumps(program):
    report = {"app": map_sizes((program.parent / "app.map").read_text()), "empty": {}, "x\u00e9": {"a.o": {}}}
    assert size_report_json(report) == json.dumps(report, indent=2, sort_keys=True) + "\n"
    assert size_report_json({}) == "{}\n"


def test_a_file_that_is_not_a_whole_elf_is_a_user_error(program, tmp_path):
    for name, data in (
        ("text.elf", b"not an ELF file at all\n"),
        ("cut.elf", program.read_bytes()[:1000]),
        ("wide.elf", b"\x7fELF\x02\x01\x01" + bytes(57)),
    ):
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(ImageError, match=f"{name}: not a valid ELF file"):
            program_sizes(path)
