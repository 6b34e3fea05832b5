"""Errors a person can act on. ``str(err)`` is one line that names the problem and a next step."""

from __future__ import annotations


class FamiliarError(Exception):
    """Base of every error the CLI and GUI show to the user as a one-line message."""

    exit_code = 2


class ProfileError(FamiliarError):
    """The profile cannot be created, opened or changed."""


class ProfileMissing(ProfileError):
    pass


class ProfileExists(ProfileError):
    pass


class WrongSecret(ProfileError):
    """A passphrase, recovery key or keychain secret that does not open any slot."""

    exit_code = 3


class ProfileDamaged(ProfileError):
    """A file of the profile failed its integrity check; ``path`` names it."""

    exit_code = 4

    def __init__(self, path: str, detail: str):
        super().__init__(f"{path} is damaged ({detail}); restore it from a backup")
        self.path = path
        self.detail = detail


class KeychainUnavailable(ProfileError):
    """The OS keychain cannot safely keep the key; the passphrase slot is offered instead."""


class Locked(ProfileError):
    """An operation needs the unlocked profile."""
