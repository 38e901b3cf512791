"""`simpul lab ...`: hands over to the lab's own entry point, `python -m lab`.

The product never imports `lab`; this process is replaced by the lab's, with every argument
after `lab` (--help included) passed on untouched.
"""

from __future__ import annotations

import os
import sys

from typer import Typer
from typer.core import TyperGroup


class _LabEntryPoint(TyperGroup):
    """Listed among the sub-apps like any other; parsing its arguments execs the lab."""

    def parse_args(self, ctx: object, args: list[str]) -> list[str]:
        os.execv(sys.executable, [sys.executable, "-m", "lab", *args])


lab_app = Typer(cls=_LabEntryPoint, help="The simulated demo network.")
