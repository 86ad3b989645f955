"""The example boot chain under QEMU: every byte built and signed by fwbuild, every image
checked by the stage before it (libsodium's Ed25519 on the device), fallbacks, trial boots
that revert, keys that rotate and revoke, anti-rollback.

The flash persists from one boot to the next as on a chip: it lives in a host file that
QEMU loads at address 0 on every boot, and the firmware's flash writes (trailers, security
counters) go back into that file through semihosting (example_project/common/board.c).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

TARGET = "MPS2_AN385"
FLASH_SIZE = 0x400000
FLASH_FILE = "fwbuild-flash.bin"
DEV_KEY = "keys/dev-ed25519-key.pem"
CONSOLE = re.compile(r"^(selector|bootloader|app): ")


class Chain:
    """A built copy of the example and a flash file to boot it from."""

    def __init__(self, fw, project: Path, folder: Path):
        self.fw, self.project, self.folder = fw, project, folder
        self.build = project / "build" / TARGET
        self.layout = {r["name"]: r for r in json.loads((self.build / "layout.json").read_text())["regions"]}
        folder.mkdir(parents=True, exist_ok=True)
        self.flash = folder / FLASH_FILE
        data = bytearray(b"\xff" * FLASH_SIZE)
        combined = (self.build / "combined.bin").read_bytes()
        data[: len(combined)] = combined
        self.flash.write_bytes(data)

    def signed(
        self,
        stage: str,
        slot: int,
        version: str,
        key: Path | str = DEV_KEY,
        project: Path | None = None,
        *extra: str,
    ) -> bytes:
        """The stage's program linked for ``slot`` (from ``project``, default this one),
        signed for that slot by ``fwbuild sign`` as a release engineer would."""
        project = project or self.project
        program = "app" if stage == "application" else stage
        source = project / "build" / TARGET / stage / f"slot{slot}" / f"{program}.bin"
        out = self.folder / f"{stage}-{slot}-{version}-{Path(str(key)).stem}.bin"
        result = self.fw.run_fwbuild(
            "sign", source, out, "--target", TARGET, "--project", project, "--stage", stage,
            "--slot", str(slot), "--key", self.project / key, "--version", version, *extra,
        )  # fmt: skip
        assert result.returncode == 0, result.describe()
        return out.read_bytes()

    def place(self, region: str, image: bytes) -> None:
        data = bytearray(self.flash.read_bytes())
        start = self.layout[region]["start"]
        data[start : start + len(image)] = image
        self.flash.write_bytes(data)

    def erase(self, region: str) -> None:
        r = self.layout[region]
        data = bytearray(self.flash.read_bytes())
        data[r["start"] : r["start"] + r["size"]] = b"\xff" * r["size"]
        self.flash.write_bytes(data)

    def flip(self, address: int) -> None:
        data = bytearray(self.flash.read_bytes())
        data[address] ^= 0x01
        self.flash.write_bytes(data)

    def boot(self) -> tuple[int, list[str]]:
        """One power-on: QEMU loads the flash file at 0 and runs until the firmware exits."""
        cmd = [
            "timeout", "20", "qemu-system-arm", "-M", "mps2-an385", "-nographic", "-monitor", "none",
            "-no-reboot", "-semihosting-config", "enable=on,target=native",
            "-device", f"loader,file={FLASH_FILE},addr=0x0,force-raw=on",
        ]  # fmt: skip
        proc = subprocess.run(cmd, cwd=self.folder, capture_output=True, text=True, timeout=60)
        lines = [line for line in (proc.stderr + proc.stdout).splitlines() if CONSOLE.match(line)]
        return proc.returncode, lines


@pytest.fixture(scope="module")
def built(fw, tmp_path_factory):
    """The example, built once for MPS2_AN385 (debug), plus variants made on demand."""
    made: dict[str, Path] = {}

    def get(name: str = "example", edit=None, *args: str) -> Path:
        if name not in made:
            project = fw.copy_project(fw.EXAMPLE, tmp_path_factory.mktemp(name) / "project")
            if edit is not None:
                edit(project)
            result = fw.run_scons(project, TARGET, *args)
            assert result.returncode == 0, result.describe()
            made[name] = project
        return made[name]

    return get


@pytest.fixture
def chain(fw, built, tmp_path) -> Chain:
    return Chain(fw, built(), tmp_path / "board")


def test_fresh_combined_image_boots_through_every_stage(chain):
    status, lines = chain.boot()
    assert status == 0, lines
    assert lines == [
        "selector: bootloader slot 1 refused (empty)",
        "selector: boot bootloader slot 0 v1.0.0",
        "bootloader: application slot 1 refused (empty)",
        "bootloader: boot application slot 0 v1.0.0",
        "app: v1.0.0 slot 0 confirmed",
    ]
    assert chain.boot() == (0, lines)  # the same on the next power-on: nothing pending


def test_newer_bootloader_in_slot_1_boots(chain):
    chain.place("bootloader.1", chain.signed("bootloader", 1, "1.1.0"))
    status, lines = chain.boot()
    assert status == 0, lines
    assert lines[:2] == [
        "selector: boot bootloader slot 1 v1.1.0",
        "bootloader: application slot 1 refused (empty)",
    ]
    assert lines[-1] == "app: v1.0.0 slot 0 confirmed"


def test_a_flipped_signature_byte_falls_back_to_slot_0(chain):
    image = bytearray(chain.signed("bootloader", 1, "1.1.0"))
    image[-1] ^= 0x01  # the Ed25519 signature is the image's last TLV
    chain.place("bootloader.1", bytes(image))
    status, lines = chain.boot()
    assert status == 0, lines
    assert lines[:2] == [
        "selector: bootloader slot 1 refused (signature)",
        "selector: boot bootloader slot 0 v1.0.0",
    ]


def test_an_image_signed_with_an_untrusted_key_is_refused(chain, keys, tmp_path):
    stranger = keys.write(tmp_path / "stranger.pem", keys.generate("ed25519"))
    chain.place("application.1", chain.signed("application", 1, "1.1.0", stranger))
    status, lines = chain.boot()
    assert status == 0, lines
    assert "bootloader: application slot 1 refused (untrusted key)" in lines
    assert lines[-2:] == ["bootloader: boot application slot 0 v1.0.0", "app: v1.0.0 slot 0 confirmed"]


def _with_second_key(key: bytes, revoke: bool):
    """An edit of the example: a second Ed25519 key trusted beside the development key,
    and with ``revoke`` also listed as revoked."""

    def edit(project: Path) -> None:
        from fwbuild.keys import load_public_key

        second = project / "keys" / "second-ed25519.pem"
        second.write_bytes(key)
        config = json.loads((project / "fwbuild.json").read_text())
        config["signing"]["trusted_keys"] = [DEV_KEY, "keys/second-ed25519.pem"]
        if revoke:
            config["signing"]["revoked_keys"] = [load_public_key(second).key_hash.hex()]
        (project / "fwbuild.json").write_text(json.dumps(config, indent=2))

    return edit


SECOND_KEY: list[bytes] = []


def second_key(keys, folder: Path) -> bytes:
    """One second key for the whole module: the rotated and the revoked builds share it."""
    if not SECOND_KEY:
        SECOND_KEY.append(keys.write(folder / "second.pem", keys.generate("ed25519")).read_bytes())
    return SECOND_KEY[0]


def test_a_second_trusted_key_boots_and_a_revoked_one_does_not(fw, built, keys, tmp_path):
    key = second_key(keys, tmp_path)
    rotated = built("rotated", _with_second_key(key, revoke=False))
    chain = Chain(fw, rotated, tmp_path / "rotated")
    second = rotated / "keys" / "second-ed25519.pem"
    chain.place("application.1", chain.signed("application", 1, "1.1.0", second))
    status, lines = chain.boot()
    assert status == 0, lines
    assert lines[-2:] == ["bootloader: boot application slot 1 v1.1.0 trial", "app: v1.1.0 slot 1 confirmed"]

    # The same key revoked: the stages refuse what it signed, and fwbuild will not sign with it.
    revoked = built("revoked", _with_second_key(key, revoke=True))
    chain = Chain(fw, revoked, tmp_path / "revoked")
    refused = fw.run_fwbuild(
        "sign", revoked / "build" / TARGET / "application" / "slot1" / "app.bin", tmp_path / "x.bin",
        "--target", TARGET, "--project", revoked, "--stage", "application", "--slot", "1",
        "--key", revoked / "keys" / "second-ed25519.pem", "--version", "1.1.0",
    )  # fmt: skip
    assert refused.returncode == 2 and "revoked" in refused.stderr, refused.describe()
    chain.place("application.1", chain.signed("application", 1, "1.1.0", second, rotated))
    status, lines = chain.boot()
    assert status == 0, lines
    assert "bootloader: application slot 1 refused (revoked key)" in lines
    assert lines[-1] == "app: v1.0.0 slot 0 confirmed"


def test_a_faulty_application_is_tried_once_then_reverted(fw, built, chain):
    faulty = built("faulty", None, "faulty=1")
    chain.place("application.1", chain.signed("application", 1, "1.1.0", project=faulty))
    status, lines = chain.boot()
    assert status == 0, lines
    assert lines[-2:] == [
        "bootloader: boot application slot 1 v1.1.0 trial",
        "app: v1.1.0 slot 1 unconfirmed",
    ]
    status, lines = chain.boot()
    assert status == 0, lines
    assert lines[-3:] == [
        "bootloader: application slot 1 refused (trial failed)",
        "bootloader: boot application slot 0 v1.0.0",
        "app: v1.0.0 slot 0 confirmed",
    ]
    status, lines = chain.boot()  # it stays refused
    assert "bootloader: application slot 1 refused (trial failed)" in lines
    assert lines[-1] == "app: v1.0.0 slot 0 confirmed"


def test_an_application_that_confirms_itself_stays(chain):
    chain.place("application.1", chain.signed("application", 1, "1.1.0"))
    assert chain.boot()[1][-2:] == [
        "bootloader: boot application slot 1 v1.1.0 trial",
        "app: v1.1.0 slot 1 confirmed",
    ]
    for _ in range(2):
        status, lines = chain.boot()
        assert status == 0, lines
        assert lines[-2:] == ["bootloader: boot application slot 1 v1.1.0", "app: v1.1.0 slot 1 confirmed"]


def test_a_lower_security_counter_is_a_rollback(chain):
    assert chain.boot()[0] == 0  # slot 0 confirms itself
    assert chain.boot()[0] == 0  # and its counter (auto: from 1.0.0) is kept
    chain.place(
        "application.1", chain.signed("application", 1, "1.1.0", DEV_KEY, None, "--security-counter", "1")
    )
    status, lines = chain.boot()
    assert status == 0, lines
    assert "bootloader: application slot 1 refused (rollback)" in lines
    assert lines[-1] == "app: v1.0.0 slot 0 confirmed"


def test_no_valid_bootloader_stops_with_status_3(chain):
    slot0 = chain.layout["bootloader.0"]["start"]
    chain.flip(slot0 + 0x400 + 0x10)  # inside the program: its hash no longer matches
    image = bytearray(chain.signed("bootloader", 1, "1.1.0"))
    image[-1] ^= 0x01
    chain.place("bootloader.1", bytes(image))
    status, lines = chain.boot()
    assert status == 3, lines
    assert lines == [
        "selector: bootloader slot 0 refused (hash)",
        "selector: bootloader slot 1 refused (signature)",
        "selector: no valid bootloader",
    ]
