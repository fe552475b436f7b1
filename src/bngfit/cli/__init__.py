"""The command line, the only printer.

``bngfit validate|evaluate|simulate|check-grad|fit|show|plot``.
"""

from bngfit import _compat

from ._main import main

__all__ = ["main"]

# bngfit 0.1's module bngfit.cli: its other names, deprecated
__getattr__ = _compat.old_names("cli", "cli._main")
