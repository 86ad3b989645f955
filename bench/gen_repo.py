"""Write a synthetic firmware repo of N C files, for measuring builds at firmware scale.

    .venv/bin/python bench/gen_repo.py DIR --files N

The repo is the example's one-stage K64F layout (managed, "@bootloader", signed with the
example's development key): the example's bootloader/ and common/ sources, an app/main.c
that calls into every module, and N modules src/mod_NNNN.c. Each module puts about 18
entries in the application's symbol table (its file, a static and three global functions,
static and global data, and the Arm mapping symbols around literal pools: 36,000 at
N=2000), as real code does. Each includes the shared header include/fw_config.h (an edit
there recompiles everything) and the header of its group of 50 modules, group_GG.h (an
edit there recompiles 50 files).

Importable: `write_repo(folder, files)` returns the folder; `MODULE_SOURCE` names the file a
one-file-change measurement edits.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "example_project"
TARGET = "K64F"
GROUP = 50  # modules sharing one group header
# The module a one-file change edits (the first one; it exists for every N >= 1).
MODULE_SOURCE = "src/mod_0000.c"
# The K64F layout of the example (and of tests/projects/one_stage).
LAYOUT = {
    "bootloader_img": "@bootloader",
    "bootloader_size": "0x8000",
    "header_offset": "0x8000",
    "app_offset": "0x8400",
    "restrict_size": "0x7BC00",
    "candidate_offset": "0x84000",
}
KEY = "keys/dev-ed25519-key.pem"

SCONSTRUCT = """\
# A synthetic firmware repo written by bench/gen_repo.py: the example's one-stage layout
# with many application sources.
import fwbuild

# FW_STARTUP=False: common/startup.c is the example's own start-up code.
env = Environment(tools=["default", "fwbuild"], toolpath=[fwbuild.scons_toolpath()], FW_STARTUP=False)
env.Append(CPPPATH=[Dir("common"), Dir("include")])
common = Glob("common/*.c")
Default(env.Firmware(Glob("app/*.c") + Glob("src/*.c") + common, bootloader=Glob("bootloader/*.c") + common))
"""

CONFIG_H = """\
#ifndef FW_CONFIG_H
#define FW_CONFIG_H
/* Shared by every module: an edit here recompiles all of them. */
#include <stddef.h>
#include <stdint.h>

#define FW_TABLE_SIZE 4u
#define FW_SCALE 3u

typedef struct {
    uint32_t id;
    uint32_t count;
    uint32_t table[FW_TABLE_SIZE];
} fw_state_t;

static inline uint32_t fw_mix(uint32_t a, uint32_t b)
{
    a ^= b + 0x9e3779b9u + (a << 6) + (a >> 2);
    return a * FW_SCALE;
}
#endif
"""

GROUP_H = """\
#ifndef FW_GROUP_{group:02d}_H
#define FW_GROUP_{group:02d}_H
/* Shared by modules {first}..{last}: an edit here recompiles those. */
#include "fw_config.h"

#define GROUP_{group:02d}_SEED {seed}u
{prototypes}
#endif
"""

MODULE_C = """\
#include "group_{group:02d}.h"

/* Module {n}. */
uint32_t mod_{n:04d}_counter;
const uint32_t mod_{n:04d}_table[FW_TABLE_SIZE] = {{{table}}};
static fw_state_t state;

static uint32_t fold(const uint32_t *values, uint32_t seed)
{{
    uint32_t acc = seed;
    for (size_t i = 0; i < FW_TABLE_SIZE; i++) {{
        acc = fw_mix(acc ^ values[i], GROUP_{group:02d}_SEED + {n}u);
    }}
    return acc;
}}

void mod_{n:04d}_init(void)
{{
    state.id = {n}u;
    for (uint32_t i = 0; i < FW_TABLE_SIZE; i++) {{
        state.table[i] = mod_{n:04d}_table[i];
    }}
}}

uint32_t mod_{n:04d}_update(uint32_t input)
{{
    if (state.count++ == 0) {{
        mod_{n:04d}_init();
    }}
    mod_{n:04d}_counter += input;
    return fold(state.table, state.count) ^ input;
}}

uint32_t mod_{n:04d}_checksum(void)
{{
    return fold(mod_{n:04d}_table, state.id);
}}
"""

MAIN_C = """\
#include <stdint.h>

#include "board.h"
{includes}

/* Calls into every module, so none of them is dead code. */
int main(void)
{{
    uint32_t sum = 0;
{calls}
    board_puts("bench app: ");
    board_put_uint(sum & 0xffffu);
    board_puts("\\n");
    board_exit(0);
}}
"""


def _group_header(group: int, modules: range) -> str:
    prototypes = "".join(
        f"\nvoid mod_{n:04d}_init(void);\nuint32_t mod_{n:04d}_update(uint32_t input);\n"
        f"uint32_t mod_{n:04d}_checksum(void);\nextern uint32_t mod_{n:04d}_counter;\n"
        for n in modules
    )
    return GROUP_H.format(
        group=group, first=modules.start, last=modules.stop - 1, seed=group * 7919 + 1, prototypes=prototypes
    )


def write_repo(folder: Path, files: int) -> Path:
    """Write the repo into `folder` (created; it must not exist or be empty) and return it."""
    if files < 1:
        raise ValueError("files must be at least 1")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if any(folder.iterdir()):
        raise FileExistsError(f"{folder} is not empty")
    for name in ("bootloader", "common"):
        shutil.copytree(EXAMPLE / name, folder / name)
    (folder / "keys").mkdir()
    shutil.copy(EXAMPLE / KEY, folder / KEY)
    (folder / "SConstruct").write_text(SCONSTRUCT)
    config = {
        "name": f"bench-{files}",
        "version": "1.0.0",
        "signing": {"key": KEY},
        "target_overrides": {TARGET: LAYOUT},
    }
    (folder / "fwbuild.json").write_text(json.dumps(config, indent=2) + "\n")
    include, src, app = folder / "include", folder / "src", folder / "app"
    for path in (include, src, app):
        path.mkdir()
    (include / "fw_config.h").write_text(CONFIG_H)
    groups = range((files + GROUP - 1) // GROUP)
    for group in groups:
        modules = range(group * GROUP, min(files, (group + 1) * GROUP))
        (include / f"group_{group:02d}.h").write_text(_group_header(group, modules))
        for n in modules:
            table = ", ".join(f"{(n * 31 + i * 17) & 0xFFFF}u" for i in range(4))
            (src / f"mod_{n:04d}.c").write_text(MODULE_C.format(n=n, group=group, table=table))
    includes = "\n".join(f'#include "group_{g:02d}.h"' for g in groups)
    calls = "\n".join(f"    sum += mod_{n:04d}_update(sum);" for n in range(files))
    (app / "main.c").write_text(MAIN_C.format(includes=includes, calls=calls))
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="where to write the repo (must not exist or be empty)")
    parser.add_argument("--files", type=int, required=True, help="number of C modules")
    args = parser.parse_args()
    if args.files < 1:
        parser.exit(2, f"error: --files {args.files}: a repo needs at least 1 file; give --files 1 or more\n")
    if args.folder.exists() and (not args.folder.is_dir() or any(args.folder.iterdir())):
        parser.exit(2, f"error: {args.folder} exists and is not an empty folder; give a new folder\n")
    write_repo(args.folder, args.files)
    print(f"wrote {args.files} modules to {args.folder}; build with: scons -C {args.folder} target={TARGET}")


if __name__ == "__main__":
    main()
