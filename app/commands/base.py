"""What every command shares: output (text or one JSON object), unlocking, the runtime."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from typing import Any

from app.core.errors import FamiliarError, ProfileError
from app.core.paths import data_home
from app.core.profile.keychain import Keychain
from app.core.profile.vault import UnlockedProfile, Vault


class CliError(FamiliarError):
    """Bad input on the command line."""


class Cli:
    """One command invocation: its arguments, its output mode and what it opened."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.json = bool(getattr(args, "json", False))
        self._runtime: Any = None
        self._profile: UnlockedProfile | None = None

    # --- output -----------------------------------------------------------------------------

    def emit(self, payload: dict[str, Any], text: str) -> None:
        if self.json:
            print(json.dumps(payload, default=str))
        else:
            print(text)

    def fail(self, message: str, code: int) -> int:
        line = " ".join(message.split())
        if self.json:
            print(json.dumps({"error": line}))
        print(f"familiar: error: {line}", file=sys.stderr)
        return code or 1

    def info(self, text: str) -> None:
        """Human progress notes: stderr, so stdout stays one JSON object with --json."""
        print(text, file=sys.stderr)

    @property
    def interactive(self) -> bool:
        return sys.stdin is not None and sys.stdin.isatty()

    # --- secrets ----------------------------------------------------------------------------

    def ask_secret(self, prompt: str, confirm: bool = False) -> str:
        if not self.interactive:
            raise CliError(f"{prompt.rstrip(': ')} needed: set it in the environment")
        value = getpass.getpass(prompt)
        if confirm and getpass.getpass("Repeat: ") != value:
            raise CliError("the two entries differ")
        return value

    # --- profile ----------------------------------------------------------------------------

    def home(self) -> Any:
        return data_home()

    def unlock(self) -> UnlockedProfile:
        """Unlock with FAMILIAR_PASSPHRASE, FAMILIAR_RECOVERY_KEY, the keychain, or a prompt."""
        if self._profile is None:
            self._profile = unlock_profile(Vault.load(self.home()), self)
        return self._profile

    def runtime(self) -> Any:
        if self._runtime is None:
            from app.runtime import Runtime

            self._runtime = Runtime.start(self.unlock())
        return self._runtime

    def close(self) -> None:
        if self._runtime is not None:
            self._runtime.close()
        elif self._profile is not None:
            self._profile.lock()


def unlock_profile(vault: Vault, cli: Cli) -> UnlockedProfile:
    passphrase = os.environ.get("FAMILIAR_PASSPHRASE")
    if passphrase:
        return vault.unlock_passphrase(passphrase)
    recovery = os.environ.get("FAMILIAR_RECOVERY_KEY")
    if recovery:
        return vault.unlock_recovery(recovery)
    if "keychain" in vault.slot_kinds():
        opened = vault.unlock_keychain(Keychain())
        if opened is not None:
            return opened
        cli.info("The keychain could not open the profile; use the passphrase or recovery key.")
    if cli.interactive and "passphrase" in vault.slot_kinds():
        return vault.unlock_passphrase(cli.ask_secret("Passphrase: "))
    raise ProfileError(
        "the profile is locked: set FAMILIAR_PASSPHRASE (or FAMILIAR_RECOVERY_KEY), "
        "or run in a terminal"
    )


def add_command(
    sub: Any, common: argparse.ArgumentParser, name: str, handler: Any, help_text: str
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(name, parents=[common], help=help_text,
                                                     description=help_text)
    parser.set_defaults(handler=handler)
    return parser
