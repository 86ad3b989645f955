"""The Cortex-M cores fwbuild knows: architecture, the FPUs their silicon may carry, whether
they have a vector-table offset register, and the compiler flags each choice gives.

A core whose FPU is optional on silicon (Cortex-M4, M7, M33, M55) must say which one the
chip has: code built for a double-precision FPU faults on a single-precision one
(``vmla.f64`` on an STM32F746), and code built without one is slower than it needs to be.
The flags are the same words for GCC and clang, and each set maps onto one of newlib's
multilibs (``arm-none-eabi-gcc -print-multi-lib``), so that compile and link agree.
"""

from __future__ import annotations

from dataclasses import dataclass

FPU_KINDS = ("none", "single", "double")
FLOAT_ABIS = ("hard", "softfp")


@dataclass(frozen=True)
class Core:
    name: str
    arch: str
    # FPU kinds the core's silicon may carry, and the flags each gives: the -mcpu word first
    fpus: dict[str, tuple[str, ...]]
    vtor: bool  # the usual implementation; a target says "vtor" when its chip differs
    note: str = ""

    @property
    def fpu_optional(self) -> bool:
        return len(self.fpus) > 1


CORES: dict[str, Core] = {
    c.name: c
    for c in (
        Core("cortex-m0", "Armv6-M", {"none": ("-mcpu=cortex-m0",)}, vtor=False, note="no VTOR"),
        Core(
            "cortex-m0plus",
            "Armv6-M",
            {"none": ("-mcpu=cortex-m0plus",)},
            vtor=True,
            note="VTOR optional: most chips have it (set vtor false when not)",
        ),
        Core("cortex-m3", "Armv7-M", {"none": ("-mcpu=cortex-m3",)}, vtor=True),
        Core(
            "cortex-m4",
            "Armv7E-M",
            {"none": ("-mcpu=cortex-m4+nofp",), "single": ("-mcpu=cortex-m4", "-mfpu=fpv4-sp-d16")},
            vtor=True,
            note="FPv4-SP when present",
        ),
        Core(
            "cortex-m7",
            "Armv7E-M",
            {
                "none": ("-mcpu=cortex-m7+nofp",),
                "single": ("-mcpu=cortex-m7", "-mfpu=fpv5-sp-d16"),
                "double": ("-mcpu=cortex-m7", "-mfpu=fpv5-d16"),
            },
            vtor=True,
            note="FPv5-SP or FPv5-DP: STM32F7 single, STM32H7 double",
        ),
        Core(
            "cortex-m23",
            "Armv8-M baseline",
            {"none": ("-mcpu=cortex-m23",)},
            vtor=True,
            note="VTOR optional (set vtor false when not)",
        ),
        Core(
            "cortex-m33",
            "Armv8-M mainline",
            {"none": ("-mcpu=cortex-m33+nofp",), "single": ("-mcpu=cortex-m33", "-mfpu=fpv5-sp-d16")},
            vtor=True,
            note="FPv5-SP when present; resets in the Secure state",
        ),
        Core(
            "cortex-m55",
            "Armv8.1-M mainline",
            {"none": ("-mcpu=cortex-m55+nofp+nomve",), "double": ("-mcpu=cortex-m55+nomve",)},
            vtor=True,
            note="FPU with half, single and double precision when present; MVE (Helium) not used",
        ),
    )
}

# Names from before the FPU key, kept so that existing target files build as they did:
# the FPU they imply, or None where the silicon varies and the file must say.
LEGACY_CORES: dict[str, tuple[str, str | None]] = {
    "cortex-m4f": ("cortex-m4", "single"),
    "cortex-m7f": ("cortex-m7", None),
    "cortex-m33f": ("cortex-m33", "single"),
}

CORE_NAMES = (*CORES, *LEGACY_CORES)


class CoreError(ValueError):
    """A core/FPU/float ABI combination that cannot be built; ``key`` is the key to fix."""

    def __init__(self, key: str, problem: str, fix: str):
        super().__init__(problem)
        self.key, self.problem, self.fix = key, problem, fix


@dataclass(frozen=True)
class CoreChoice:
    """A target's core as it builds: the core, its FPU kind and the float ABI."""

    core: Core
    fpu: str
    float_abi: str  # "soft" when there is no FPU

    @property
    def flags(self) -> tuple[str, ...]:
        cpu, *fpu = self.core.fpus[self.fpu]
        return (cpu, "-mthumb", *fpu, f"-mfloat-abi={self.float_abi}")

    def describe(self) -> str:
        fpu = "no FPU" if self.fpu == "none" else f"{self.fpu}-precision FPU, float ABI {self.float_abi}"
        return f"{self.core.name} ({self.core.arch}, {fpu})"


def choose(core: str, fpu: str | None, float_abi: str | None) -> CoreChoice:
    """The core as a target file states it (``core``, optional ``fpu`` and ``float_abi``),
    checked: an optional FPU must be named, and only the kinds the core may carry."""
    name, implied = LEGACY_CORES.get(core, (core, None))
    spec = CORES[name]
    if implied is not None and fpu is not None and fpu != implied:
        raise CoreError(
            "fpu",
            f'core "{core}" means a {implied}-precision FPU, but fpu is "{fpu}"',
            f'write "core": "{name}", "fpu": "{fpu}"',
        )
    fpu = fpu or implied
    kinds = " | ".join(f'"{k}"' for k in spec.fpus)
    if fpu is None:
        if spec.fpu_optional:
            raise CoreError(
                "fpu",
                f"{name}'s FPU is optional on silicon ({spec.note}), and code built for the wrong "
                "one faults on the chip or wastes it",
                f'add "fpu": {kinds} as the chip\'s reference manual says',
            )
        fpu = "none"
    if fpu not in spec.fpus:
        raise CoreError("fpu", f'{name} has no "{fpu}" FPU', f'use "fpu": {kinds}')
    if fpu == "none":
        if float_abi not in (None, "soft"):
            raise CoreError(
                "float_abi",
                f'float_abi "{float_abi}" needs an FPU, and this {name} has none',
                'remove float_abi (without an FPU it is "soft")',
            )
        return CoreChoice(spec, fpu, "soft")
    return CoreChoice(spec, fpu, float_abi or "hard")


def table() -> list[tuple[str, ...]]:
    """The cores table as docs/target-format.md shows it: core, architecture, FPU values, VTOR,
    flags per FPU, notes."""
    rows = []
    for core in CORES.values():
        flags = "; ".join(f"{fpu}: `{' '.join(f)}`" for fpu, f in core.fpus.items())
        fpus = " / ".join(core.fpus) + (" (required)" if core.fpu_optional else "")
        rows.append((f"`{core.name}`", core.arch, fpus, "yes" if core.vtor else "no", flags, core.note))
    return rows


def markdown_table() -> str:
    head = "| core | architecture | `fpu` | VTOR | flags, then `-mthumb -mfloat-abi=...` | notes |\n"
    return head + "|---|---|---|---|---|---|\n" + "".join("| " + " | ".join(r) + " |\n" for r in table())
