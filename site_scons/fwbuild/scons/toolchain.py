"""The cross toolchain in an environment: arm-none-eabi-gcc replaces the host compiler,
with flags and an ``ENV`` that make objects reproducible across checkouts and machines."""

from __future__ import annotations

import os


def setup(env) -> None:
    """Install the cross compiler and its defaults; values the SConstruct set survive."""
    env.SetDefault(
        FW_PREFIX="arm-none-eabi-",
        FW_BUILD_DIR="#build/$FW_TARGET",
        FW_PROJECT=env.Dir(".").srcnode().abspath,
        FW_OBJCOPY="${FW_PREFIX}objcopy",
        FW_LINKCOM="$LINK -o ${TARGETS[0]}.tmp -Wl,-Map=${TARGETS[1]} -T $FW_LDSCRIPT "
        "$LINKFLAGS $SOURCES $_LIBDIRFLAGS $_LIBFLAGS",
    )
    # The cross toolchain replaces the host one that "default" set up.
    env["CC"] = "${FW_PREFIX}gcc"
    env["AS"] = "${FW_PREFIX}gcc"
    env["LINK"] = "${FW_PREFIX}gcc"
    env["AR"] = "${FW_PREFIX}ar"
    env["RANLIB"] = "${FW_PREFIX}ranlib"
    env["ASFLAGS"] = ["-x", "assembler-with-cpp", "$FW_PATH_MAP"]
    env["ARFLAGS"] = "rcD"  # deterministic archives: no timestamps, owners or modes
    env["RANLIBFLAGS"] = "-D"
    # Reproducible objects: no absolute path of the checkout reaches debug information or
    # __FILE__ (see path_map), and __DATE__/__TIME__ are flagged. $( $) keeps the paths (and
    # a compiler wrapper such as ccache or distcc) out of the build signatures, so a second
    # checkout in another folder hits the same cache entries.
    env["_FW_PATH_MAP"] = path_map
    env["FW_PATH_MAP"] = "$( $_FW_PATH_MAP $)"
    env.Append(CCFLAGS=["-Wdate-time", "$FW_PATH_MAP"])
    env["CCCOM"] = "$( $FW_CC_PREFIX $) " + env["CCCOM"]
    env["ASPPCOM"] = "$( $FW_CC_PREFIX $) " + env["ASPPCOM"]
    env["ASCOM"] = "$( $FW_CC_PREFIX $) " + env["ASCOM"]
    env["OBJSUFFIX"] = ".o"
    env["PROGSUFFIX"] = ".elf"
    # "content", not "content-timestamp": generated files (app.ld, fwbuild_layout.h) rewritten
    # within the same second keep their mtime, and content-timestamp would then miss them.
    env.Decider("content")
    # Tools run with PATH only (where the user's toolchain is), not the whole host environment.
    env["ENV"] = {"PATH": os.environ.get("PATH", os.defpath)}
    # ...plus what a compiler wrapper reads (ccache's cache folder, distcc's hosts).
    env["ENV"].update(
        {
            k: v
            for k, v in os.environ.items()
            if k in ("HOME", "TMPDIR") or k.startswith(("CCACHE_", "DISTCC_"))
        }
    )


def path_map(target, source, env, for_signature):
    """``-ffile-prefix-map`` options that take every absolute path of this checkout out of
    what the compiler writes (DW_AT_comp_dir, DW_AT_name, __FILE__).

    The compiler runs in SCons' top folder: the folder of the SConstruct that scons reads
    first, which lies above the project when that SConstruct reads the project's (as the
    repository root's does). It reads files under it: the sources, and the generated ones in
    the build folder (fwbuild_layout.h, the default start-up code). The top folder becomes
    ".", so every path under it is relative; the project and the build folder, when they lie
    outside it, become their path relative to it. Each option is one word, quoted for the
    shell: a checkout path may hold spaces.
    """
    from SCons.Subst import Literal

    top = env.Dir("#").abspath
    maps = []
    for folder in (os.path.abspath(env.subst("$FW_PROJECT")), env.Dir("$FW_BUILD_DIR").abspath):
        inside = os.path.commonpath([top, folder]) == top
        if not inside and folder not in (old for old, _ in maps):
            maps.append((folder, os.path.relpath(folder, top)))
    # GCC tries the last option first: the top folder wins for paths under it.
    maps.append((top, "."))
    return [Literal(f"-ffile-prefix-map={old}={new}") for old, new in maps]
