"""The command-line contract (see docs/architecture.md). Each command group lives in its own
module under ``app/commands`` and registers its subcommands here; this module parses, runs
and turns every FamiliarError into a one-line message and a non-zero exit."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import logging
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from app import __version__
from app.commands.base import Cli, CliError
from app.core.errors import FamiliarError
from app.core.logs import setup_logging

log = logging.getLogger(__name__)

# Every module here has ``register(subparsers, common)``; order sets the help listing.
COMMAND_MODULES = (
    "app.commands.profile_cmds",
    "app.commands.doctor_cmd",
    "app.commands.bench_cmds",
    "app.commands.ask_cmd",
    "app.commands.folders_cmds",
    "app.commands.index_cmd",
    "app.commands.search_cmd",
    "app.commands.models_cmds",
    "app.commands.quick_ask_cmd",
    "app.commands.memory_cmds",
)


class UsageError(Exception):
    """An argument argparse refused; ``main`` reports it under the contract, not argparse."""

    def __init__(self, prog: str, message: str):
        super().__init__(message)
        self.prog = prog
        self.message = message


class Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing its usage and exiting, so a bad argument
    becomes the same one-line error (one JSON object with --json) as any other. Subparsers
    are built with the parent's class, so every command inherits this."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(self.prog, message)


def build_parser() -> argparse.ArgumentParser:
    # --json is accepted before or after the command: the subcommands' copy has no default,
    # so `familiar --json search x` is not reset to False by the search parser.
    common = Parser(add_help=False)
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="print one JSON object on stdout")
    parser = Parser(
        prog="familiar",
        description="Familiar: a private assistant with a local model and your own files.",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    parser.add_argument("--tray", action="store_true",
                        help="start in the tray (the window stays closed after unlocking)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # Before anything imports torch: idle OpenMP threads sleep instead of spinning, which
    # otherwise slows query encoding tenfold when other threads are busy (docs/memory.md).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        # "--json" anywhere (even after "--") says the caller reads stdout as JSON.
        line = f"{exc.message} (see '{exc.prog} --help')"
        return Cli(argparse.Namespace(json="--json" in argv)).fail(line, 2)
    except SystemExit as exc:  # --help printed its text
        return int(exc.code or 0)
    if args.version:
        if args.json:
            print(json.dumps({"version": __version__}))
        else:
            print(f"familiar {__version__}")
        return 0
    if args.command is None and args.json:
        # A caller that reads stdout as JSON is a script: starting the window would hang it.
        return Cli(args).fail("--json needs a command (see 'familiar --help')", 2)
    if args.command is None:
        from app.__main__ import gui_main

        return gui_main()
    os.umask(0o077)  # everything Familiar writes is for this user only
    setup_logging()
    cli = Cli(args)
    try:
        return int(args.handler(cli) or 0)
    except (FamiliarError, CliError) as exc:
        return cli.fail(str(exc), getattr(exc, "exit_code", 2))
    except KeyboardInterrupt:
        return cli.fail("interrupted", 130)
    except BrokenPipeError:
        # The reader went away (`familiar search x | head -1`): nothing more to say. Point
        # stdout at /dev/null so the flush at exit does not raise again.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except Exception as exc:
        from app.core.profile.store import DatabaseError

        if isinstance(exc, DatabaseError):
            return cli.fail("store.db is damaged (database error); restore it from a backup", 4)
        log.exception("command %s failed", args.command)
        return cli.fail(f"internal error ({type(exc).__name__}); see the log for details", 1)
    finally:
        cli.close()


if __name__ == "__main__":
    sys.exit(main())
