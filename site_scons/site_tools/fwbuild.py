"""The file SCons loads for ``tools=["fwbuild"]``; the tool itself is ``fwbuild.scons``.

SCons files this module in sys.modules under its bare name, which is the package's name,
and puts this folder first on sys.path while it runs it. Put the package back in both
places, then hand over.
"""

import os
import sys

if not hasattr(sys.modules.get("fwbuild"), "__path__"):
    del sys.modules["fwbuild"]  # this shim, not the package
_here = os.path.dirname(os.path.abspath(__file__))
_path = sys.path[:]
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _here]
try:
    from fwbuild.scons import exists, generate  # noqa: F401
finally:
    sys.path[:] = _path
