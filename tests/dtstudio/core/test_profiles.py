"""Connection profiles: defaults, round trip, validation, and no secret on disk."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dtstudio.core.profiles import (
    EMBEDDED_PROFILE_NAME,
    BackendKind,
    ConnectionProfile,
    CredentialKind,
    ProfileError,
    ProfileStore,
)


def test_fresh_store_has_embedded_emulator_and_azure_profiles(tmp_path: Path) -> None:
    store = ProfileStore(tmp_path)
    profiles = store.load()
    kinds = [p.kind for p in profiles]
    assert kinds[0] is BackendKind.EMBEDDED and profiles[0].name == EMBEDDED_PROFILE_NAME
    assert BackendKind.EMULATOR in kinds and BackendKind.AZURE in kinds
    dts = next(p for p in profiles if p.kind is BackendKind.EMULATOR)
    assert dts.endpoint == "http://localhost:8080" and dts.taskhub == "default"


def test_profiles_round_trip_and_never_store_secrets(tmp_path: Path) -> None:
    store = ProfileStore(tmp_path)
    store.load()
    p = ConnectionProfile(
        "prod", BackendKind.AZURE, "https://x.westus2.durabletask.io", "orders",
        CredentialKind.MANAGED_IDENTITY, managed_identity_client_id="1234",
        extra={"client_secret": "hunter2", "access_token": "abc", "region": "westus2"},
    )
    store.upsert(p)
    store.last_used = "prod"
    store.save()
    raw = (tmp_path / "profiles.json").read_text()
    assert "hunter2" not in raw and "abc" not in raw
    again = ProfileStore(tmp_path)
    again.load()
    loaded = again.get("prod")
    assert loaded is not None
    assert loaded.credential is CredentialKind.MANAGED_IDENTITY
    assert loaded.managed_identity_client_id == "1234"
    assert loaded.taskhub == "orders"
    assert loaded.extra == {"region": "westus2"}
    assert again.last_used == "prod"


def test_damaged_file_falls_back_to_defaults(tmp_path: Path) -> None:
    (tmp_path / "profiles.json").write_text("{not json")
    store = ProfileStore(tmp_path)
    assert store.load()[0].kind is BackendKind.EMBEDDED


@pytest.mark.parametrize(
    ("profile", "message"),
    [
        (ConnectionProfile("x", BackendKind.EMULATOR, "", "default"), "endpoint"),
        (ConnectionProfile("x", BackendKind.EMULATOR, "http://a b", "default"), "spaces"),
        (ConnectionProfile("x", BackendKind.EMULATOR, "http://localhost:1", " "), "task hub"),
        (ConnectionProfile(" ", BackendKind.EMULATOR, "http://localhost:1", "h"), "name"),
    ],
)
def test_invalid_profiles_are_refused_with_a_reason(profile: ConnectionProfile, message: str) -> None:
    with pytest.raises(ProfileError, match=message):
        profile.validate()


def test_embedded_profile_cannot_be_removed_and_names_are_unique(tmp_path: Path) -> None:
    store = ProfileStore(tmp_path)
    store.load()
    with pytest.raises(ProfileError):
        store.remove(EMBEDDED_PROFILE_NAME)
    dup = ConnectionProfile(store.profiles[1].name, BackendKind.EMULATOR, "http://h:1", "default")
    with pytest.raises(ProfileError, match="already exists"):
        store.upsert(dup, old_name="something else")
    data = json.loads(json.dumps([p.to_json() for p in store.profiles]))
    assert all(isinstance(d["kind"], str) for d in data)
