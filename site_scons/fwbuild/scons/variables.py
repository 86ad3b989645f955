"""The command-line variables (``target=``, ``profile=``, ...) and ``scons -h``."""

from __future__ import annotations

import os

import SCons.Script

from fwbuild.errors import FwbuildError
from fwbuild.scons import memo
from fwbuild.toolchains import DEFAULT_TOOLCHAIN, TOOLCHAINS

DEFAULT_TARGET = "K64F"


PROFILES = ("debug", "release")


def _variables(env):
    variables = SCons.Script.Variables(None, SCons.Script.ARGUMENTS)
    variables.Add(
        "target",
        "target to build (see: fwbuild targets); all, or A,B, builds several in one run",
        env.get("FW_DEFAULT_TARGET", DEFAULT_TARGET),
    )
    variables.Add("profile", "build profile: " + " or ".join(PROFILES), "debug")
    variables.Add(
        "toolchain",
        "gnu (arm-none-eabi-gcc, GNU ld) or llvm (clang, ld.lld; newlib and libgcc as with gnu)",
        env.get("FW_DEFAULT_TOOLCHAIN", DEFAULT_TOOLCHAIN),
    )
    variables.Add(SCons.Script.BoolVariable("verbose", "show full command lines", False))
    variables.Add("sign_key", "signing key file (overrides signing.key and FWBUILD_SIGNING_KEY)", "")
    variables.Add("sign_command", "external signer: reads {digest}, writes {signature}", "")
    variables.Add(
        "programmer", "flash command for `scons flash` ({image}, {address}); default: the target's", ""
    )
    variables.Add("gdb_port", "GDB server port for `scons debug`", "1234")
    variables.Add(
        SCons.Script.BoolVariable(
            "ninja",
            "write build/<target>/build.ninja and build with Ninja (pip install ninja); then "
            "`ninja -C build/<target>` alone rebuilds",
            False,
        )
    )
    variables.Add("cc_prefix", "compiler wrapper in front of the cross compiler (ccache, distcc)", "")
    variables.Add(
        "cache_dir",
        "shared build cache folder (default: $FWBUILD_CACHE_DIR)",
        os.environ.get("FWBUILD_CACHE_DIR", ""),
    )
    variables.Add(
        SCons.Script.BoolVariable(
            "cache_signed", "let deterministically signed images come from the build cache", False
        )
    )
    return variables


def target_list(env, text):
    """``all`` (every public target) or a comma-separated list of names."""
    if text != "all":
        return [name.strip() for name in text.split(",") if name.strip()]
    from fwbuild.project import load_project

    try:
        cache = memo.listing_cache(env)  # schema checks remembered: ~200 ms of every target=all run
        root = env.get("FW_PROJECT") or env.Dir(".").srcnode().abspath
        return load_project(root, cache).target_set(cache).public_names()
    except FwbuildError as exc:
        memo.die(str(exc))


def help_targets(env):
    from fwbuild.project import load_project

    try:
        targets = load_project(env["FW_PROJECT"]).target_set().public_names()
    except FwbuildError as exc:
        memo.die(str(exc))
    SCons.Script.Help("\ntargets: " + " ".join(targets) + "\n", append=True)
    SCons.Script.Help(
        "aliases: run (boot the image in the target's emulator), flash (run the target's programmer),\n"
        "         debug (the emulator halted for GDB), compiledb (compile_commands.json for editors)\n",
        append=True,
    )


def apply(env) -> bool:
    """Read the command-line variables into the environment's ``FW_*`` keys (they leave
    no lower-case keys behind); returns ``verbose``."""
    variables = _variables(env)
    variables.Update(env)
    if SCons.Script.GetOption("help"):
        SCons.Script.Help(variables.GenerateHelpText(env), append=True)
    env["FW_TARGET"], env["FW_PROFILE"], verbose = env["target"], env["profile"], env["verbose"]
    if env["FW_TARGET"] == "all" or "," in env["FW_TARGET"]:
        env["FW_TARGETS"] = env["FW_ALL_TARGETS"] = target_list(env, env["FW_TARGET"])
        env["FW_TARGET"] = env["FW_TARGETS"][0]
    env["FW_SIGN_KEY"], env["FW_SIGN_COMMAND"] = env["sign_key"], env["sign_command"]
    env["FW_CACHE_SIGNED"] = env["cache_signed"]
    env["FW_CC_PREFIX"] = env["cc_prefix"]
    env["FW_TOOLCHAIN"] = env["toolchain"]
    env["FW_PROGRAMMER"] = env["programmer"]
    env["FW_GDB_PORT"] = env["gdb_port"]
    env["FW_NINJA"] = env["ninja"]
    cache_dir = env["cache_dir"]
    for key in (
        "target",
        "profile",
        "toolchain",
        "verbose",
        "sign_key",
        "sign_command",
        "cache_signed",
        "cc_prefix",
        "cache_dir",
        "programmer",
        "gdb_port",
        "ninja",
    ):
        del env[key]
    if cache_dir:
        env.CacheDir(os.path.abspath(os.path.join(SCons.Script.GetLaunchDir(), cache_dir)))
    if env["FW_PROFILE"] not in PROFILES:
        memo.die(f"profile={env['FW_PROFILE']}: unknown profile; use profile=debug or profile=release")
    if env["FW_TOOLCHAIN"] not in TOOLCHAINS:
        memo.die(
            f"toolchain={env['FW_TOOLCHAIN']}: unknown toolchain; use toolchain=gnu (arm-none-eabi-gcc, "
            "the default) or toolchain=llvm (clang and ld.lld)"
        )
    return verbose
