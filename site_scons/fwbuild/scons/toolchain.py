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
    # Reproducible objects: the checkout's absolute path becomes "." in debug info and
    # __FILE__, and __DATE__/__TIME__ are flagged. $( $) keeps the path (and a compiler
    # wrapper such as ccache or distcc) out of the build signatures, so a second checkout
    # in another folder hits the same cache entries.
    env["FW_PATH_MAP"] = "$( -ffile-prefix-map=${FW_PROJECT}=. $)"
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
