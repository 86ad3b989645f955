"""Code uses only the instructions its FPU has. A `double` and a `float` function are compiled
with the flags fwbuild derives from a resolved target, by arm-none-eabi-gcc and by clang (the
two toolchains' compilers), and disassembled:

- no FPU: no floating-point instruction at all, both through the __aeabi_* helpers;
- single precision: `.f32` instructions, the `double` function through __aeabi_d* calls and
  never a `.f64` instruction (an STM32F746 faults on `vmla.f64`);
- double precision: `.f64` instructions.

Then the same functions built into a real board's application by the example's build, and
the ELF's build attributes (arm-none-eabi-readelf -A) checked against the FPU."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from fwbuild.targets import TargetSet

SOURCE = """\
__attribute__((used, noinline)) double fma_double(double a, double b, double c) { return a * b + c; }
__attribute__((used, noinline)) float fma_float(float a, float b, float c) { return a * b + c; }
"""

# Targets for cores no shipped board has with that FPU: each inherits a shipped one.
EXTRA_TARGETS = {
    "M33_NO_FPU": {"inherits": "NUCLEO_L552ZE_Q", "fpu": "none"},
    "F746_SOFTFP": {"inherits": "NUCLEO_F746ZG", "float_abi": "softfp"},
    "M55_FPU": {"inherits": "MPS2_AN385", "core": "cortex-m55", "fpu": "double"},
}

# (target, FPU kind, float ABI)
CASES = [
    ("LPC1768", "none", "soft"),  # cortex-m3
    ("M33_NO_FPU", "none", "soft"),  # cortex-m33+nofp
    ("K64F", "single", "hard"),  # cortex-m4 FPv4-SP
    ("NUCLEO_F746ZG", "single", "hard"),  # cortex-m7 FPv5-SP
    ("F746_SOFTFP", "single", "softfp"),
    ("NUCLEO_L552ZE_Q", "single", "hard"),  # cortex-m33 FPv5-SP
    ("LPC55S69", "single", "hard"),
    ("NUCLEO_H743ZI", "double", "hard"),  # cortex-m7 FPv5-DP
    ("M55_FPU", "double", "hard"),  # cortex-m55 (MVE off)
]

INSN_RE = re.compile(r"^\s+[0-9a-f]+:\s+(\S+)\s*(.*)$")
FUNC_RE = re.compile(r"^[0-9a-f]+ <(\w+)>:$")


def run(*args: str | Path) -> str:
    proc = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, f"$ {' '.join(map(str, args))}\n{proc.stdout}{proc.stderr}"
    return proc.stdout


def disassemble(path: Path) -> dict[str, list[str]]:
    """Each function's instructions, as 'mnemonic operands'."""
    functions: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in run("arm-none-eabi-objdump", "-d", "--no-show-raw-insn", path).splitlines():
        if m := FUNC_RE.match(line):
            current = functions.setdefault(m.group(1), [])
        elif current is not None and (m := INSN_RE.match(line)):
            current.append(f"{m.group(1)} {m.group(2)}".strip())
    return functions


def fp_instructions(code: list[str]) -> list[str]:
    """In M-profile Thumb code every mnemonic starting with "v" is a floating-point (or MVE)
    instruction: vadd, vfma, vmov, vldr, vpush, vcvt, ..."""
    return [insn for insn in code if insn.startswith("v")]


# The run-time helpers soft-float code calls, by either of their names (in a linked ELF
# objdump may show libgcc's name of the same address).
HELPERS = {
    "__aeabi_dmul": "dmul",
    "__muldf3": "dmul",
    "__aeabi_dadd": "dadd",
    "__adddf3": "dadd",
    "__aeabi_fmul": "fmul",
    "__mulsf3": "fmul",
    "__aeabi_fadd": "fadd",
    "__addsf3": "fadd",
}


def calls(code: list[str]) -> set[str]:
    """The soft-float helpers the code branches to: dmul, dadd, fmul, fadd."""
    targets = {m.group(1) for insn in code if (m := re.search(r"<(\w+)>", insn))}
    return {HELPERS[t] for t in targets if t in HELPERS}


def attributes(path: Path) -> dict[str, str]:
    """The ELF's Arm build attributes (arm-none-eabi-readelf -A) as tag -> value."""
    out = run("arm-none-eabi-readelf", "-A", path)
    return dict(m.groups() for m in re.finditer(r"^\s+(Tag_\w+): (.*)$", out, re.M))


def check_code(functions: dict[str, list[str]], fpu: str, where: str) -> None:
    double, single = functions["fma_double"], functions["fma_float"]
    if fpu == "none":
        assert not fp_instructions(double + single), (
            f"{where}: FP instructions without an FPU: {double + single}"
        )
        assert {"dmul", "dadd"} <= calls(double), double
        assert {"fmul", "fadd"} <= calls(single), single
    elif fpu == "single":
        assert any(".f32" in insn for insn in single), f"{where}: float code without .f32: {single}"
        assert not calls(single), single
        f64 = [insn for insn in double + single if ".f64" in insn]
        assert not f64, f"{where}: double-precision instructions on a single-precision FPU: {f64}"
        assert {"dmul", "dadd"} <= calls(double), double
    else:
        assert any(".f64" in insn for insn in double), f"{where}: double code without .f64: {double}"
        assert not calls(double + single), double + single


def check_attributes(attrs: dict[str, str], fpu: str, float_abi: str, where: str) -> None:
    """Tag_FP_arch says which FPU the code may use, Tag_ABI_HardFP_use 'SP only' that it
    stays single precision, Tag_ABI_VFP_args that arguments go in FP registers."""
    if fpu == "none":
        assert "Tag_FP_arch" not in attrs, f"{where}: {attrs}"
        return
    assert attrs.get("Tag_FP_arch", "").startswith(("VFPv4", "FPv5")), f"{where}: {attrs}"
    assert (attrs.get("Tag_ABI_HardFP_use") == "SP only") == (fpu == "single"), f"{where}: {attrs}"
    assert (attrs.get("Tag_ABI_VFP_args") == "VFP registers") == (float_abi == "hard"), f"{where}: {attrs}"


@pytest.fixture(scope="module")
def targets(tmp_path_factory: pytest.TempPathFactory) -> TargetSet:
    folder = tmp_path_factory.mktemp("fpu-targets")
    for name, data in EXTRA_TARGETS.items():
        (folder / f"{name}.json").write_text(json.dumps({"description": name, **data}))
    return TargetSet([folder])


# The C compilers of the two toolchains (toolchain=gnu, toolchain=llvm), given the same flags.
COMPILERS = {"gcc": ("arm-none-eabi-gcc",), "clang": ("clang", "--target=arm-none-eabi")}


@pytest.mark.parametrize("compiler", COMPILERS)
@pytest.mark.parametrize("name,fpu,float_abi", CASES, ids=[c[0] for c in CASES])
def test_code_uses_only_its_fpu(targets, tmp_path, name, fpu, float_abi, compiler):
    flags = targets.resolve(name).core_flags
    assert f"-mfloat-abi={float_abi}" in flags, flags
    (tmp_path / "fpu.c").write_text(SOURCE)
    obj = tmp_path / "fpu.o"
    run(*COMPILERS[compiler], *flags, "-O2", "-c", tmp_path / "fpu.c", "-o", obj)
    where = f"{name}, {compiler} {' '.join(flags)}"
    check_code(disassemble(obj), fpu, where)
    check_attributes(attributes(obj), fpu, float_abi, where)


@pytest.mark.parametrize(
    "board,fpu,toolchain",
    [
        ("NUCLEO_F746ZG", "single", "gnu"),
        ("NUCLEO_H743ZI", "double", "gnu"),
        ("NUCLEO_F746ZG", "single", "llvm"),
    ],
)
def test_board_application_uses_only_its_fpu(fw, tmp_path, board, fpu, toolchain):
    """The example's application with the two functions added, built for the board by the
    pipeline (compile and link flags, libgcc of the matching multilib), with either toolchain."""
    project = fw.copy_project(fw.EXAMPLE, tmp_path / "project")
    (project / "app" / "fpu_probe.c").write_text(SOURCE)
    build = fw.Build(project, board, fw.run_scons(project, board, f"toolchain={toolchain}")).require_ok()
    functions = disassemble(build.elf)
    check_code(functions, fpu, f"{board} app.elf")
    if fpu == "single":
        everywhere = [insn for code in functions.values() for insn in code if ".f64" in insn]
        assert not everywhere, f"{board} app.elf has double-precision instructions: {everywhere}"
    check_attributes(attributes(build.elf), fpu, "hard", f"{board} app.elf")
