"""The LPC vector checksum (a named link-stage hook) patches every program fwbuild links for
an LPC target, wherever it starts, as Mbed OS 6 patches every binary it builds for one: the
application at mbed_app_start in an unmanaged layout, and in a managed one both the
bootloader at the flash start and the application after the header."""

from __future__ import annotations

import json
import struct
from pathlib import Path

from intelhex import IntelHex


def checksum_ok(data: bytes, offset: int = 0) -> bool:
    """What the LPC17xx boot ROM checks: vectors 0-7 sum to zero."""
    return sum(struct.unpack_from("<8I", data, offset)) & 0xFFFFFFFF == 0


def test_unmanaged_application_away_from_the_flash_start(fw, tmp_path):
    project = fw.copy_project(fw.EXAMPLE, tmp_path / "project")
    fw.set_overrides(project, "LPC1768", mbed_app_start="0x10000", mbed_app_size="0x20000")
    result = fw.run_scons(project, "LPC1768")
    assert result.returncode == 0, result.describe()
    out = project / "build/LPC1768"
    image = (out / "app.bin").read_bytes()
    assert checksum_ok(image)
    hexed = IntelHex(str(out / "app.hex"))
    assert hexed.minaddr() == 0x10000 and hexed.tobinstr() == image  # the hex carries the patch
    described = json.loads((out / "post-build.json").read_text())
    (part,) = described["parts"]
    assert part["address"] == 0x10000 and part["path"] == "app.bin"


def test_managed_bootloader_and_application(fw, tmp_path):
    project = fw.copy_project(fw.EXAMPLE, tmp_path / "project")
    fw.set_overrides(
        project,
        "LPC1768",
        bootloader_img="@bootloader",
        bootloader_size="0x8000",
        header_offset="0x8000",
        app_offset="0x8400",
    )
    result = fw.run_scons(project, "LPC1768")
    assert result.returncode == 0, result.describe()
    out = project / "build/LPC1768"
    app = (out / "app.bin").read_bytes()
    assert checksum_ok((out / "bootloader/bootloader.bin").read_bytes())
    assert checksum_ok(app)
    slot = (out / "app-signed.bin").read_bytes()
    assert slot[0x400 : 0x400 + len(app)] == app  # the header and signature cover the patched bytes
    combined = (out / "combined.bin").read_bytes()
    assert checksum_ok(combined) and checksum_ok(combined, 0x8400)
    verify = fw.run_fwbuild("verify", out / "app-signed.bin", "--target", "LPC1768", "--project", project)
    assert verify.returncode == 0, verify.describe()


def test_the_unpatched_link_output_differs(fw, tmp_path):
    """The check above is not trivially true: the linked program's own vector 7 does not
    make the sum zero; objcopy of the ELF gives the bytes before the hook."""
    project = fw.copy_project(fw.EXAMPLE, tmp_path / "project")
    fw.set_overrides(project, "LPC1768", mbed_app_start="0x10000", mbed_app_size="0x20000")
    assert fw.run_scons(project, "LPC1768").returncode == 0
    out = project / "build/LPC1768"
    raw = Path(tmp_path / "raw.bin")
    copy = fw.run(["arm-none-eabi-objcopy", "-O", "binary", out / "app.elf", raw])
    assert copy.returncode == 0, copy.describe()
    assert not checksum_ok(raw.read_bytes())
    assert raw.read_bytes()[0x20:] == (out / "app.bin").read_bytes()[0x20:]
