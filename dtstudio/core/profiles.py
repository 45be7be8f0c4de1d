"""Connection profiles: where dtstudio connects, saved between runs without any secret.

A profile names a backend (the embedded emulator, a DTS emulator, or Azure Durable Task Scheduler),
its endpoint, its task hub and, for Azure, which credential to use. Credentials are never stored:
only the *kind* of credential (and a managed identity's client id, which is not a secret) is
written; tokens come from azure-identity at run time.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import sys
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

__all__ = [
    "EMBEDDED_PROFILE_NAME",
    "BackendKind",
    "ConnectionProfile",
    "CredentialKind",
    "ProfileError",
    "ProfileStore",
    "default_profiles",
    "user_config_dir",
    "user_data_dir",
]

log = logging.getLogger("dtstudio.core.profiles")

EMBEDDED_PROFILE_NAME = "Embedded emulator"

#: Keys that must never reach the profile file, whatever a caller puts in a profile.
_SECRET_WORDS = ("secret", "password", "token", "key", "connection_string")


class BackendKind(str, Enum):
    """What kind of backend a profile points at."""

    EMBEDDED = "embedded"
    EMULATOR = "emulator"
    AZURE = "azure"


class CredentialKind(str, Enum):
    """How dtstudio authenticates to Azure Durable Task Scheduler (never stored: only the kind)."""

    NONE = "none"
    DEFAULT = "default"
    AZURE_CLI = "azure_cli"
    INTERACTIVE_BROWSER = "interactive_browser"
    MANAGED_IDENTITY = "managed_identity"

    @property
    def label(self) -> str:
        return {
            "none": "None (no authentication)",
            "default": "DefaultAzureCredential",
            "azure_cli": "Azure CLI (az login)",
            "interactive_browser": "Interactive browser sign-in",
            "managed_identity": "Managed identity",
        }[self.value]


class ProfileError(ValueError):
    """A profile is incomplete or contradictory; the message says what to fix."""


@dataclass
class ConnectionProfile:
    """One saved connection: backend kind, endpoint, task hub and (for Azure) credential kind."""

    name: str
    kind: BackendKind = BackendKind.EMULATOR
    endpoint: str = "http://localhost:8080"
    taskhub: str = "default"
    credential: CredentialKind = CredentialKind.NONE
    managed_identity_client_id: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    def validate(self) -> None:
        """Raise :class:`ProfileError` with a plain message if the profile cannot be used."""
        if not self.name.strip():
            raise ProfileError("The profile needs a name.")
        if self.kind is BackendKind.EMBEDDED:
            return
        endpoint = self.endpoint.strip()
        if not endpoint:
            raise ProfileError("Enter an endpoint, for example http://localhost:8080.")
        if any(c.isspace() for c in endpoint):
            raise ProfileError("The endpoint must not contain spaces.")
        if not self.taskhub.strip():
            raise ProfileError("Enter a task hub name (the DTS emulator's is 'default').")
        if self.kind is BackendKind.AZURE and not endpoint.lower().startswith(("https://", "http://")):
            raise ProfileError("An Azure scheduler endpoint looks like https://<name>.<region>.durabletask.io.")

    def display_target(self) -> str:
        """A short human description: 'http://localhost:8080 · hub default'."""
        if self.kind is BackendKind.EMBEDDED:
            return f"embedded emulator · hub {self.taskhub}"
        return f"{self.endpoint} · hub {self.taskhub}"

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["kind"] = self.kind.value
        data["credential"] = self.credential.value
        data["extra"] = {k: v for k, v in self.extra.items() if not _looks_secret(k)}
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ConnectionProfile:
        try:
            kind = BackendKind(str(data.get("kind", "emulator")))
        except ValueError:
            kind = BackendKind.EMULATOR
        try:
            credential = CredentialKind(str(data.get("credential", "none")))
        except ValueError:
            credential = CredentialKind.NONE
        extra = data.get("extra") or {}
        return cls(
            name=str(data.get("name", "")).strip() or "Unnamed",
            kind=kind,
            endpoint=str(data.get("endpoint", "")),
            taskhub=str(data.get("taskhub", "default")) or "default",
            credential=credential,
            managed_identity_client_id=str(data.get("managed_identity_client_id", "")),
            extra={str(k): str(v) for k, v in dict(extra).items() if not _looks_secret(str(k))},
        )


def _looks_secret(key: str) -> bool:
    k = key.lower()
    return any(word in k for word in _SECRET_WORDS)


def default_profiles() -> list[ConnectionProfile]:
    """The profiles a fresh installation starts with."""
    return [
        ConnectionProfile(EMBEDDED_PROFILE_NAME, BackendKind.EMBEDDED, "", "default"),
        ConnectionProfile("DTS emulator (localhost:8080)", BackendKind.EMULATOR, "http://localhost:8080", "default"),
        ConnectionProfile(
            "Azure Durable Task Scheduler",
            BackendKind.AZURE,
            "https://<scheduler>.<region>.durabletask.io",
            "default",
            CredentialKind.DEFAULT,
        ),
    ]


def _xdg(var: str, fallback: str) -> Path:
    value = os.environ.get(var)
    return Path(value) if value else Path.home() / fallback


def user_config_dir() -> Path:
    """Where dtstudio keeps its settings (``DTSTUDIO_CONFIG_DIR`` overrides it)."""
    override = os.environ.get("DTSTUDIO_CONFIG_DIR")
    if override:
        return Path(override)
    if sys.platform == "win32":
        return Path(os.environ.get("APPDATA", Path.home())) / "dtstudio"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "dtstudio"
    return _xdg("XDG_CONFIG_HOME", ".config") / "dtstudio"


def user_data_dir() -> Path:
    """Where dtstudio keeps data such as the embedded emulator's database (``DTSTUDIO_DATA_DIR``)."""
    override = os.environ.get("DTSTUDIO_DATA_DIR")
    if override:
        return Path(override)
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA", Path.home())) / "dtstudio"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "dtstudio"
    return _xdg("XDG_DATA_HOME", ".local/share") / "dtstudio"


class ProfileStore:
    """Loads and saves profiles as JSON (``profiles.json`` in the config directory)."""

    FILE_NAME = "profiles.json"

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = Path(directory) if directory is not None else user_config_dir()
        self.path = self.directory / self.FILE_NAME
        self.profiles: list[ConnectionProfile] = []
        self.last_used: str = EMBEDDED_PROFILE_NAME

    def load(self) -> list[ConnectionProfile]:
        """Read the file; a missing or damaged file gives the default profiles (and a log line)."""
        profiles: list[ConnectionProfile] = []
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            profiles = [ConnectionProfile.from_json(p) for p in data.get("profiles", []) if isinstance(p, dict)]
            self.last_used = str(data.get("last_used", EMBEDDED_PROFILE_NAME))
        except FileNotFoundError:
            pass
        except (OSError, ValueError, AttributeError) as exc:
            log.info("ignoring unreadable profile file %s: %s", self.path, exc)
        if not any(p.kind is BackendKind.EMBEDDED for p in profiles):
            profiles.insert(0, default_profiles()[0])
        if len(profiles) == 1:
            profiles.extend(default_profiles()[1:])
        self.profiles = profiles
        return profiles

    def save(self) -> None:
        """Write all profiles atomically. No secret is ever written."""
        self.directory.mkdir(parents=True, exist_ok=True)
        data = {"version": 1, "last_used": self.last_used, "profiles": [p.to_json() for p in self.profiles]}
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
        os.replace(tmp, self.path)

    def get(self, name: str) -> ConnectionProfile | None:
        return next((p for p in self.profiles if p.name == name), None)

    def upsert(self, profile: ConnectionProfile, *, old_name: str | None = None) -> None:
        """Add a profile or replace the one called ``old_name`` (or ``profile.name``)."""
        profile.validate()
        key = old_name or profile.name
        for i, p in enumerate(self.profiles):
            if p.name == key:
                self.profiles[i] = profile
                return
        if self.get(profile.name) is not None:
            raise ProfileError(f"A profile called {profile.name!r} already exists.")
        self.profiles.append(profile)

    def remove(self, name: str) -> None:
        p = self.get(name)
        if p is None:
            return
        if p.kind is BackendKind.EMBEDDED:
            raise ProfileError("The embedded emulator profile cannot be removed.")
        self.profiles.remove(p)
