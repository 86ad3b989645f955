"""The SCons face of fwbuild: builders that turn the core into firmware builds.

    env = Environment(tools=["default", "fwbuild"], toolpath=[fwbuild.scons_toolpath()])
    env.Firmware(Glob("app/*.c"), bootloader=Glob("bootloader/*.c"))

SCons loads the tool from ``site_tools/fwbuild.py``, a shim that hands over to
``generate``/``exists`` here. One module per concern: ``variables`` (command line, help),
``toolchain`` (the cross compiler and reproducible flags), ``progress`` (the log),
``builders``/``actions`` (the steps), ``pipeline`` (the environment methods), ``aliases``
(run, flash, debug), ``memo`` (values computed once per environment), ``folders`` (one
build at a time per build folder, which keeps only what the configuration produces).
"""

from __future__ import annotations

import SCons.Script

from fwbuild.scons import builders, memo, pipeline, progress, toolchain, variables


def generate(env) -> None:
    verbose = variables.apply(env)
    toolchain.setup(env)
    progress.set_comstrs(env, verbose)
    env["PRINT_CMD_LINE_FUNC"] = progress.Progress()
    env["FW_DECLARED"] = memo.Declared()

    env["BUILDERS"].update(builders.BUILDERS)
    env.AddMethod(pipeline.FirmwareProgram)
    env.AddMethod(pipeline.Firmware)
    env.AddMethod(pipeline.FirmwarePostBuild)
    env.AddMethod(pipeline.TrustedKeys)

    if "compiledb" in SCons.Script.COMMAND_LINE_TARGETS:
        # SCons' own tool, loaded only when asked for: it adds a node per object.
        env.Tool("compilation_db")
        env.Alias("compiledb", env.CompilationDatabase("#compile_commands.json"))
    if SCons.Script.GetOption("help"):
        variables.help_targets(env)


def exists(env) -> bool:
    prefix = env.subst("${FW_PREFIX}") or "arm-none-eabi-"
    return env.Detect(prefix + "gcc")
