"""Autosaved drafts of unsaved form text, encrypted on the local disk, one user each.

Why: caseworkers lose notes when a program or a machine crashes (Lex Sarah
reports in Nacka 2015 and Vaggeryd 2021). Text typed into a note is saved
here every few seconds until the note is saved to the database, and offered
back when the same form is opened again — after a crash, or after the window
was closed.

How it is kept secret: every draft file is encrypted with AES-256-GCM under
a random 256-bit key of its own user; the user name and the draft's key are
bound in as associated data, so a file copied to another user's directory
or renamed does not decrypt. File names are an HMAC of the draft key, so
they do not show case or note ids. The user's key lives in a key file
readable only by the OS account (mode 0600) in the data directory.

Limits, said plainly: whoever can read the OS account's files (the user,
an administrator, malware running as the user) can read the key and the
drafts; the encryption protects drafts in backups, copied folders and on
a disk read without the key file. Keeping the key in the OS keyring, or
wrapping it with a key derived from the login password, would bind it to
the login too; neither is done yet.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
NONCE_BYTES = 12
FORMAT = b"FD1"  # file format marker and version
_SAFE = re.compile(r"^[A-Za-z0-9:_.-]{1,200}$")


@dataclass(frozen=True)
class Draft:
    """One autosaved draft: what form it belongs to, what was typed, when it was saved."""

    key: str
    payload: dict[str, Any]
    saved_at: datetime


def _user_dir(root: Path, username: str) -> Path:
    digest = hashlib.sha256(username.encode("utf-8")).hexdigest()[:32]
    return root / digest


def _load_or_create_key(path: Path) -> bytes:
    """The user's key; created at random on first use, readable by the owner only."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = AESGCM.generate_key(bit_length=KEY_BYTES * 8)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another window of the same user made it just now
            return _load_or_create_key(path)
        with os.fdopen(fd, "wb") as f:
            f.write(key)
            f.flush()
            os.fsync(f.fileno())
        return key
    if len(data) != KEY_BYTES:
        raise ValueError(f"draft key file {path.name} is damaged")
    return data


class DraftStore:
    """Encrypted drafts of one user in ``directory`` (normally ``<data dir>/drafts``).

    Not thread-safe per key; the GUI saves from its own thread (a few ms per draft).
    """

    def __init__(self, *, directory: Path, username: str) -> None:
        self._dir = _user_dir(directory, username)
        self._username = username
        self._key = _load_or_create_key(self._dir / "key")
        self._aead = AESGCM(self._key)

    def _path(self, key: str) -> Path:
        if not _SAFE.match(key):
            raise ValueError("a draft key is ASCII letters, digits and :_.- only")
        name = hmac.new(self._key, key.encode("ascii"), hashlib.sha256).hexdigest()
        return self._dir / f"{name}.draft"

    def _aad(self, key: str) -> bytes:
        return f"{self._username}\x00{key}".encode()

    def save(self, key: str, payload: dict[str, Any]) -> None:
        """Encrypt and write atomically (a crash mid-write leaves the previous draft)."""
        body = json.dumps(
            {"key": key, "saved_at": datetime.now(UTC).isoformat(), "payload": payload},
            ensure_ascii=False,
        ).encode("utf-8")
        nonce = secrets.token_bytes(NONCE_BYTES)
        blob = FORMAT + nonce + self._aead.encrypt(nonce, body, self._aad(key))
        path = self._path(key)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    def load(self, key: str) -> Draft | None:
        """The draft saved under ``key``, or None (also for a file that does not decrypt)."""
        try:
            blob = self._path(key).read_bytes()
        except FileNotFoundError:
            return None
        if not blob.startswith(FORMAT):
            return None
        nonce = blob[len(FORMAT) : len(FORMAT) + NONCE_BYTES]
        sealed = blob[len(FORMAT) + NONCE_BYTES :]
        try:
            body = self._aead.decrypt(nonce, sealed, self._aad(key))
        except InvalidTag:
            return None
        data = json.loads(body)
        return Draft(key, data["payload"], datetime.fromisoformat(data["saved_at"]))

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def keys(self, candidates: list[str]) -> list[str]:
        """Which of ``candidates`` have a draft (names are HMACs, so the caller names them)."""
        return [k for k in candidates if self._path(k).exists()]
