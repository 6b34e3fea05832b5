"""``familiar quick-ask``: open the quick-ask popup of the running app, or start the app with
the popup open. Meant for a desktop shortcut (Wayland has no global hotkeys for apps)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from app.commands.base import Cli, add_command


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    add_command(sub, common, "quick-ask", cmd_quick_ask,
                "open the quick-ask popup (of the running app, or start it)")


def cmd_quick_ask(cli: Cli) -> int:
    from app.core.instance import request_running_instance

    if request_running_instance(cli.home(), "quick-ask"):
        cli.emit({"running_instance": True, "started": False},
                 "Asked the running Familiar to open quick ask.")
        return 0
    cli.emit({"running_instance": False, "started": True},
             "Starting Familiar with quick ask open.")
    sys.stdout.flush()
    from app.ui.app import run_gui

    return run_gui([sys.argv[0]], quick_ask=True)
