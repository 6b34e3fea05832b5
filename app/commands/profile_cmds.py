"""``familiar init``, ``lock`` and ``passwd``: create, close and re-key the profile."""

from __future__ import annotations

import argparse
import os
from typing import Any

from app.commands.base import Cli, CliError, add_command
from app.core.errors import KeychainUnavailable
from app.core.profile.keychain import Keychain
from app.core.profile.vault import Vault, profile_exists


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = add_command(sub, common, "init", cmd_init, "create an encrypted profile")
    p.add_argument("--keyring", action="store_true",
                   help="keep the key in the OS keychain (no passphrase needed to unlock)")
    add_command(sub, common, "lock", cmd_lock, "lock the profile (drop keys, close the store)")
    add_command(sub, common, "passwd", cmd_passwd,
                "change the passphrase (FAMILIAR_NEW_PASSPHRASE, or asked twice)")


def cmd_init(cli: Cli) -> int:
    home = cli.home()
    if profile_exists(home):
        raise CliError(f"a profile already exists in {home}; nothing was changed")
    passphrase = os.environ.get("FAMILIAR_PASSPHRASE") or None
    keychain = None
    notes = []
    if cli.args.keyring:
        keychain = Keychain()
        try:
            keychain.check()
        except KeychainUnavailable as exc:
            if passphrase is None and not cli.interactive:
                raise
            notes.append(f"keychain not used: {exc}")
            keychain = None
    if keychain is None and passphrase is None:
        passphrase = cli.ask_secret("New passphrase: ", confirm=True)
    profile, recovery = Vault.create(home, passphrase=passphrase, keychain=keychain)
    try:
        profile.store  # noqa: B018  (creates store.db and applies the migrations)
        slots = [s.kind for s in profile.header.slots]
        payload = {
            "profile_id": profile.profile_id,
            "home": str(home),
            "slots": slots,
            "recovery_key": recovery,
            "notes": notes,
        }
        text = "\n".join([
            *notes,
            f"Created an encrypted profile in {home} (unlocks with: {', '.join(slots)}).",
            "",
            "Recovery key: write it down and keep it somewhere safe. It is shown only now,",
            "and it opens the profile if the passphrase or keychain is lost:",
            "",
            f"    {recovery}",
        ])
        cli.emit(payload, text)
    finally:
        profile.lock()
    return 0


def cmd_lock(cli: Cli) -> int:
    # The CLI holds no key between commands: every command unlocks, works and locks again.
    # A running app instance is asked to lock through its instance socket when it has one.
    from app.core.instance import request_running_instance

    answered = request_running_instance(cli.home(), "lock")
    cli.emit(
        {"locked": True, "running_instance": answered},
        "Locked." if answered else "Locked (no running instance held the profile open).",
    )
    return 0


def cmd_passwd(cli: Cli) -> int:
    profile = cli.unlock()
    new = os.environ.get("FAMILIAR_NEW_PASSPHRASE") or cli.ask_secret(
        "New passphrase: ", confirm=True
    )
    profile.change_passphrase(new)
    cli.emit({"changed": True, "slots": [s.kind for s in profile.header.slots]},
             "Passphrase changed.")
    return 0
