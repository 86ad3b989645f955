"""What the log shows: one short line per step (``CC app/main.c``) behind a
``[done/total]`` counter; ``verbose=1`` shows full command lines."""

from __future__ import annotations

import sys


def set_comstrs(env, verbose):
    """One short line per step; ``verbose=1`` shows the full command lines instead."""
    commands = {
        "CCCOMSTR": "CC $SOURCE",
        "ASCOMSTR": "AS $SOURCE",
        "ASPPCOMSTR": "AS $SOURCE",
        "ARCOMSTR": "AR $TARGET",
        "RANLIBCOMSTR": "RANLIB $TARGET",
        "FW_LINKCOMSTR": "LINK ${TARGETS[0]}",
        "FW_OBJCOPYCOMSTR": "OBJCOPY $TARGET",
    }
    steps = {  # Python steps: their description is the clearest form, verbose or not
        "FW_CHECKCOMSTR": "CHECK ${TARGETS[0]}",
        "FW_GENCOMSTR": "GEN $TARGET",
        "FW_LDSCRIPTCOMSTR": "LDSCRIPT $TARGET",
        "FW_SLOTCOMSTR": "SIGN ${TARGETS[0]}",
        "FW_MERGECOMSTR": "MERGE ${TARGETS[0]}",
        "FW_MEMMAPCOMSTR": "MEMMAP ${TARGETS[0]}",
        "FW_HOOKCOMSTR": "HOOK $FW_IMAGE_HOOK $TARGET",
        "FW_REPOHOOKCOMSTR": "HOOK ${FW_REPO_HOOK.name} $TARGET",
    }
    if verbose:
        commands = {"FW_OBJCOPYCOMSTR": "$FW_OBJCOPY -O binary $SOURCE $TARGET"}
    for key, text in {**commands, **steps}.items():
        env.SetDefault(**{key: text})


class Progress:
    """Prints each step as ``[done/total] VERB file``. SCons learns what is out of date only
    while it builds, so the total counts every step the targets' graph holds (what a clean
    build runs); a rebuild ends below it. The graph is counted as it is declared: once
    building starts, SCons drops the executors of the nodes it has found up to date."""

    def __init__(self):
        self.done = 0
        self.total = 0
        self._seen: set = set()
        self._executors: set = set()

    def add(self, roots) -> None:
        """Count the steps below ``roots`` that no earlier call counted."""
        stack = list(roots)
        while stack:
            node = stack.pop()
            if node in self._seen:
                continue
            self._seen.add(node)
            if node.has_builder():
                executor = node.get_executor()
                if id(executor) not in self._executors:
                    self._executors.add(id(executor))
                    # a ListAction (link, then check) prints a line per action
                    self.total += sum(len(getattr(a, "list", [a])) for a in executor.get_action_list())
            stack.extend(node.children(scan=0))

    def __call__(self, text, target, source, env):
        self.done += 1
        sys.stdout.write(f"[{self.done}/{max(self.done, self.total)}] {text}\n")
        sys.stdout.flush()


def with_progress(env, nodes):
    progress = env.get("PRINT_CMD_LINE_FUNC")
    if isinstance(progress, Progress):
        progress.add(nodes)
    return nodes
