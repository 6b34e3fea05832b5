"""``familiar doctor``: what is installed, what is missing, and the state of the profile."""

from __future__ import annotations

import argparse
from typing import Any

from app.commands.base import Cli, add_command
from app.core import doctor


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    add_command(sub, common, "doctor", cmd_doctor, "report keychain, SQLCipher, hardware, packages")


def cmd_doctor(cli: Cli) -> int:
    report = doctor.report()
    kc = report["keychain"]
    hw = report["hardware"]
    prof = report["profile"]
    pk = report["packages"]
    shown = report["display"]
    lines = [
        f"Familiar {report['version']} on Python {report['python']}",
        f"Data folder:  {report['data_dir']}",
        f"Log folder:   {report['log_dir']}",
        f"SQLCipher:    {report['sqlcipher_version'] or 'MISSING (plain SQLite)'}",
        f"Keychain:     {kc['backend']} ({'usable' if kc['usable'] else 'not usable: ' + str(kc['reason'])})",
        f"CPU:          {hw['cpu']} ({hw['physical_cores']} cores, {hw['logical_cores']} threads)",
        f"RAM:          {hw['ram_available_mb']} MB free of {hw['ram_total_mb']} MB",
        f"GPU offload:  {hw['gpu_offload']}",
        "Window:       " + (
            f"cannot open, missing {', '.join(shown['missing'])} ({shown['install']})"
            if shown["missing"] else "X11 libraries present" if shown["x11"] else "not on X11"
        ),
        f"Packages:     {len(pk['installed'])} installed"
        + (f", missing: {', '.join(pk['missing'])}" if pk["missing"] else ""),
        "Profile:      " + (
            f"{prof.get('profile_id')} (slots: {', '.join(prof.get('slots', []))})"
            if prof.get("exists") and "error" not in prof
            else prof.get("error", "none yet: run 'familiar init'")
        ),
    ]
    cli.emit(report, "\n".join(lines))
    return 0
