"""A program that does not fit its region: the error names the region, the size needed,
the key that sets the region's size and the value to give it, not ld's "region `FLASH'
overflowed by N bytes". Where the error suggests a value, the suggestion builds."""

from __future__ import annotations

import re

TARGET = "K64F"


def with_big_table(fw, tmp_path, size: int, section: str = "const"):
    """The example with ``size`` more bytes of constants (or of .bss) in the application."""
    project = fw.copy_project(fw.EXAMPLE, tmp_path / "project")
    main = project / "app" / "main.c"
    declaration = (
        f"__attribute__((used)) const unsigned char fw_test_table[{size}] = {{1}};"
        if section == "const"
        else f"__attribute__((used)) unsigned char fw_test_buffer[{size}];"
    )
    main.write_text(main.read_text() + "\n" + declaration + "\n")
    return project


def overflows(fw, project):
    result = fw.run_scons(project, TARGET)
    assert result.returncode == 2, result.describe()
    assert "Traceback" not in result.output, result.describe()
    assert "overflowed by" not in result.output and "will not fit in region" not in result.output, (
        result.describe()
    )
    assert not (project / "build" / TARGET / "app.elf").exists()
    assert not (project / "build" / TARGET / "app.elf.tmp").exists()
    return " ".join(result.stderr.split())


def suggested(err, key):
    found = re.search(rf"{key}\b[^;]*?: set it to at least (0x[0-9a-f]+)", err)
    assert found, f"no value suggested for {key}: {err}"
    return found.group(1)


# An Mbed header: an MCUboot slot also needs room for its TLVs and trailer, which the
# signing step checks (and names restrict_size for) on its own.
MANAGED = {
    "bootloader_img": "@bootloader",
    "bootloader_size": "0x8000",
    "header_offset": "0x8000",
    "app_offset": "0x8400",
    "header_format": "mbed-v2",
}


def test_restrict_size_too_small(fw, tmp_path):
    project = with_big_table(fw, tmp_path, 8192)
    fw.set_overrides(project, TARGET, restrict_size="0x1000", **MANAGED)
    err = overflows(fw, project)
    for words in ("app.elf", "the application needs", "application 0x00008400..0x00009000 holds 3072"):
        assert words in err, err
    assert "restrict_size (now '0x1000', set in" in err and "fwbuild.json" in err, err
    needed = int(re.search(r"needs (\d+) bytes", err).group(1))
    assert 8192 < needed < 8192 + 3072, err
    value = suggested(err, "restrict_size")
    assert (0x8400 + int(value, 16)) % 0x1000 == 0 and int(value, 16) >= needed, err  # ends on a sector

    fw.set_overrides(project, TARGET, restrict_size=value, **MANAGED)
    result = fw.run_scons(project, TARGET)
    assert result.returncode == 0, f"the suggested restrict_size {value} does not build\n{result.describe()}"


def test_bootloader_size_too_small(fw, tmp_path):
    project = fw.copy_project(fw.EXAMPLE, tmp_path / "project")
    keys = {"bootloader_img": "@bootloader", "header_offset": "0x8000", "app_offset": "0x8400"}
    fw.set_overrides(project, TARGET, bootloader_size="0x1000", **keys)
    boot_main = project / "bootloader" / "main.c"
    boot_main.write_text(boot_main.read_text() + "\n__attribute__((used)) const char fw_pad[4096] = {1};\n")
    result = fw.run_scons(project, TARGET)
    assert result.returncode == 2 and "Traceback" not in result.output, result.describe()
    err = " ".join(result.stderr.split())
    assert "bootloader.elf: the bootloader needs" in err and "bootloader 0x00000000..0x00001000" in err, err
    assert "overflowed by" not in err, err
    value = suggested(err, "bootloader_size")
    fw.set_overrides(project, TARGET, bootloader_size=value, **keys)
    again = fw.run_scons(project, TARGET)
    assert again.returncode == 0, f"the suggested bootloader_size {value} does not build\n{again.describe()}"


def test_mbed_app_size_too_small(fw, tmp_path):
    project = with_big_table(fw, tmp_path, 2048)
    fw.set_overrides(project, TARGET, mbed_app_start="0x0", mbed_app_size="0x800")
    err = overflows(fw, project)
    assert "application 0x00000000..0x00000800 holds 2048" in err, err
    value = suggested(err, "mbed_app_size")
    fw.set_overrides(project, TARGET, mbed_app_start="0x0", mbed_app_size=value)
    result = fw.run_scons(project, TARGET)
    assert result.returncode == 0, f"the suggested mbed_app_size {value} does not build\n{result.describe()}"


def test_candidate_slot_in_the_way(fw, tmp_path):
    """The example's application region ends where its candidate slot begins: growing it
    means moving the candidate too, and the error says so."""
    project = with_big_table(fw, tmp_path, 0x7C000)
    err = overflows(fw, project)
    assert "application 0x00008400..0x00084000" in err, err
    suggested(err, "restrict_size")
    assert "candidate_offset to at least 0x" in err, err


def test_more_than_the_whole_flash(fw, tmp_path):
    project = with_big_table(fw, tmp_path, 0x110000)
    fw.set_overrides(project, TARGET)  # the plain layout: the application has all the flash
    err = overflows(fw, project)
    assert "more than the whole flash of K64F (1048576 bytes)" in err and "shrink the code" in err, err


def test_ram_overflow_names_the_bank(fw, tmp_path):
    project = with_big_table(fw, tmp_path, 0x40000, section="bss")
    result = fw.run_scons(project, TARGET)
    assert result.returncode == 2 and "Traceback" not in result.output, result.describe()
    err = " ".join(result.stderr.split())
    assert "more RAM than RAM bank SRAM_U 0x20000000..0x20030000" in err, err
    assert "heap_size" in err and "stack_size" in err, err
    assert "overflowed by" not in err, err
