"""The pipeline's builders, made once and installed by ``generate()`` under their
``Fw*`` names."""

from __future__ import annotations

import SCons.Action
import SCons.Builder
import SCons.Script

from fwbuild.scons import actions


def _link_emitter(target, source, env):
    target.append(target[0].target_from_source("", ".map"))
    return target, source


_text_builder = SCons.Builder.Builder(
    action=actions.action(actions.write_value, "$FW_GENCOMSTR"),
    source_factory=SCons.Script.Value,
)


_ldscript_builder = SCons.Builder.Builder(
    action=actions.action(actions.render_linker_script, "$FW_LDSCRIPTCOMSTR"),
)


_startup_builder = SCons.Builder.Builder(
    action=actions.action(actions.render_startup_code, "$FW_GENCOMSTR"),
)


_link_builder = SCons.Builder.Builder(
    action=[
        SCons.Action.Action("$FW_LINKCOM", "$FW_LINKCOMSTR"),
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


_slot_builder = SCons.Builder.Builder(action=actions.action(actions.slot_action, "$FW_SLOTCOMSTR"))


_combine_builder = SCons.Builder.Builder(action=actions.action(actions.combine_action, "$FW_MERGECOMSTR"))


_memory_map_builder = SCons.Builder.Builder(
    action=actions.action(actions.memory_map_action, "$FW_MEMMAPCOMSTR", varlist=["FW_MEMMAP_ROLES"])
)


_combined_elf_builder = SCons.Builder.Builder(
    action=actions.action(actions.combined_elf_action, "$FW_GENCOMSTR")
)


_build_info_builder = SCons.Builder.Builder(action=actions.action(actions.build_info_action, "$FW_GENCOMSTR"))


_post_build_builder = SCons.Builder.Builder(action=actions.action(actions.post_build_action, "$FW_GENCOMSTR"))

# The names the pipeline calls them by (env.FwLink(...)).
BUILDERS = {
    "FwText": _text_builder,
    "FwLinkerScript": _ldscript_builder,
    "FwStartup": _startup_builder,
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
