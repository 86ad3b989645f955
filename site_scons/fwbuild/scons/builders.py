"""The pipeline's builders, made once and installed by ``generate()`` under their
``Fw*`` names."""

from __future__ import annotations

import json
import os
import sys
import tempfile

import SCons.Action
import SCons.Builder
import SCons.Errors
import SCons.Scanner
import SCons.Script

from fwbuild.scons import actions


def _link_emitter(target, source, env):
    target.append(target[0].target_from_source("", ".map"))
    return target, source


class _LinkAction(SCons.Action.CommandAction):
    """``$FW_LINKCOM`` that says what ld's "region `FLASH' overflowed by N bytes" means for
    the layout: the region, the size the program needs, the key that sets the region's size
    and the value to give it (``fwbuild.linker.overflow_error``). It works for every linker
    template, the user's included: ld's message is read, not an ASSERT of one template. Other
    output of the linker passes through as it is."""

    def execute(self, target, source, env, executor=None):
        if "PSPAWN" not in env:  # a platform without piped spawning: ld speaks for itself
            return super().execute(target, source, env, executor)
        with tempfile.TemporaryFile() as errors:

            def spawn(sh, escape, cmd, args, spawn_env):
                return env["PSPAWN"](sh, escape, cmd, args, spawn_env, None, errors)

            result = super().execute(target, source, env.Override({"SPAWN": spawn}), executor)
            errors.seek(0)
            text = errors.read().decode(errors="replace")
        if not result:
            sys.stderr.write(text)
            return result
        from fwbuild.linker import ld_overflows

        overflows, other = ld_overflows(text)
        if not overflows:
            sys.stderr.write(text)
            return result
        from fwbuild.fileio import remove_quietly
        from fwbuild.linker import overflow_error
        from fwbuild.scons import memo

        if other:
            sys.stderr.write("\n".join(other) + "\n")
        remove_quietly(str(target[0].abspath) + ".tmp")
        resolved = memo.resolved(env)
        program = env.get("FW_PROGRAM_REGION", "application")
        messages = [
            str(overflow_error(target[0].path, o, resolved.layout, program, resolved.target.layout))
            for o in overflows
        ]
        raise SCons.Errors.UserError("\n".join(messages))


def _ldscript_emitter(target, source, env):
    """app.ld, and beside it .app.ld.templates: the other files the template engine looked
    for while rendering it (written by ``render_linker_script``, read by ``_scan_templates``)."""
    target.append(target[0].dir.File(f".{target[0].name}.templates"))
    return target, source


def render_linker_script(target, source, env):
    """The linker script from its template and the layout's context, and the record of the
    files the template loaded (``{% include %}``, ``{% import %}``, ``{% extends %}``, by
    literal or computed names) or looked for in vain: the next build depends on them."""
    from fwbuild.errors import FwbuildError
    from fwbuild.scons import memo
    from fwbuild.steps import render_linker_script as render

    try:
        templates = render(
            source[0].abspath,
            source[1].get_text_contents(),
            target[0].abspath,
            target[1].abspath,
            template_cache(env),
        )
    except FwbuildError as exc:
        raise memo.user_error(exc) from None
    # What SCons stores for this build are the dependencies it scanned before it (the
    # previous rendering's); store this rendering's instead, or the next build would find
    # "new" dependencies and render again for nothing.
    depends = _template_nodes(source[0], templates, env)
    for node in target:
        node.implicit = None
        node.add_to_implicit(depends)


def template_cache(env) -> str:
    """Compiled linker templates, kept beside the read cache in the build folders' parent."""
    return os.path.join(env.Dir("$FW_BUILD_DIR").dir.abspath, ".fwbuild-templates")


def _scan_templates(node, env, path):
    """The files the last rendering of this script's template loaded, so that an edit of an
    included file renders it again. A file it looked for and did not find is a Value that
    changes when the file appears. Like a compiler's depfile, the record of the last run is
    enough: the set of files can change only when the template, one of these files or the
    context changes, and each of those renders the script again anyway."""
    record = node if node.name.endswith(".templates") else node.dir.File(f".{node.name}.templates")
    try:
        with open(record.abspath, encoding="utf-8") as stream:
            looked = json.load(stream)["templates"]
    except (OSError, ValueError, KeyError, TypeError):
        return []  # not rendered yet (or the record is damaged: it is a target, so rebuilt)
    return _template_nodes(node.sources[0], looked, env)


def _template_nodes(template, names, env):
    """A File node per name that exists beside ``template`` (names are relative to its
    folder, as Jinja2's loader reads them), a Value per name that does not."""
    nodes = []
    for name in sorted(names):
        file = template.dir.File(name)
        if os.path.isfile(file.abspath):
            nodes.append(file)
        else:
            nodes.append(env.Value(f"linker template {name}: absent"))
    return nodes


_template_scanner = SCons.Scanner.Scanner(function=_scan_templates, name="FwLinkerTemplates", node_class=None)


_text_builder = SCons.Builder.Builder(
    action=actions.action(actions.write_value, "$FW_GENCOMSTR"),
    source_factory=SCons.Script.Value,
)


_ldscript_builder = SCons.Builder.Builder(
    action=actions.action(render_linker_script, "$FW_LDSCRIPTCOMSTR"),
    emitter=_ldscript_emitter,
    target_scanner=_template_scanner,
)


_startup_builder = SCons.Builder.Builder(
    action=actions.action(actions.render_startup_code, "$FW_GENCOMSTR"),
)


_keys_builder = SCons.Builder.Builder(action=actions.action(actions.trusted_keys_action, "$FW_GENCOMSTR"))


_link_builder = SCons.Builder.Builder(
    action=[
        _LinkAction("$FW_LINKCOM", cmdstr="$FW_LINKCOMSTR"),
        actions.action(actions.check_elf, "$FW_CHECKCOMSTR", varlist=["FW_PROGRAM_REGION"]),
    ],
    emitter=_link_emitter,
    src_suffix=".o",
)


_objcopy_builder = SCons.Builder.Builder(
    action=actions.action(
        actions.objcopy, "$FW_OBJCOPYCOMSTR", varlist=["FW_LINK_HOOKS", "FW_REPO_HOOK_SIG"]
    ),
)


_hex_builder = SCons.Builder.Builder(
    action=actions.action(actions.bin_to_hex, "$FW_GENCOMSTR", varlist=["FW_PROGRAM_START"]),
)


_image_hook_builder = SCons.Builder.Builder(
    action=actions.action(actions.image_hook_action, "$FW_HOOKCOMSTR", varlist=["FW_IMAGE_HOOK"]),
)


_repo_hook_builder = SCons.Builder.Builder(
    action=actions.action(actions.repo_image_hook_action, "$FW_REPOHOOKCOMSTR", varlist=["FW_REPO_HOOK_SIG"]),
)


_slot_builder = SCons.Builder.Builder(
    action=actions.action(actions.slot_action, "$FW_SLOTCOMSTR", varlist=["FW_SLOT_REGION"])
)


_combine_builder = SCons.Builder.Builder(
    action=actions.action(actions.combine_action, "$FW_MERGECOMSTR", varlist=["FW_COMBINE_REGIONS"])
)


_memory_map_builder = SCons.Builder.Builder(
    action=actions.action(actions.memory_map_action, "$FW_MEMMAPCOMSTR", varlist=["FW_MEMMAP_ROLES"])
)


_combined_elf_builder = SCons.Builder.Builder(
    action=actions.action(actions.combined_elf_action, "$FW_GENCOMSTR", varlist=["FW_COMBINED_PARTS"])
)


_build_info_builder = SCons.Builder.Builder(action=actions.action(actions.build_info_action, "$FW_GENCOMSTR"))


_post_build_builder = SCons.Builder.Builder(action=actions.action(actions.post_build_action, "$FW_GENCOMSTR"))

# The names the pipeline calls them by (env.FwLink(...)).
BUILDERS = {
    "FwText": _text_builder,
    "FwLinkerScript": _ldscript_builder,
    "FwStartup": _startup_builder,
    "FwKeys": _keys_builder,
    "FwLink": _link_builder,
    "FwObjcopy": _objcopy_builder,
    "FwSlot": _slot_builder,
    "FwCombine": _combine_builder,
    "FwPostBuild": _post_build_builder,
    "FwBinToHex": _hex_builder,
    "FwImageHook": _image_hook_builder,
    "FwRepoHook": _repo_hook_builder,
    "FwBuildInfo": _build_info_builder,
    "FwMemoryMap": _memory_map_builder,
    "FwCombinedElf": _combined_elf_builder,
}
