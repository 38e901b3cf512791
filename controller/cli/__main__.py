"""`python -m controller.cli`: the `simpul` command without its installed script."""

from __future__ import annotations

from controller.cli import main

main()
