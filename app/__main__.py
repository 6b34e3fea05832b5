"""Entry point: no arguments starts the GUI, subcommands run the CLI."""

from __future__ import annotations

import sys


def gui_main() -> int:
    """Start the desktop app (imports Qt only here, never at CLI start)."""
    import os

    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see app.cli.main
    from app.ui.app import run_gui

    return run_gui(sys.argv)


def main() -> int:
    from app.cli import main as cli_main

    return cli_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
