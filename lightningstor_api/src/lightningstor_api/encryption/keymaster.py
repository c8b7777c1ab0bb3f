"""Master keys: the ``KeyManager`` seam that wraps and unwraps data keys, and its embedded
implementation over named keys from the configuration or a key file."""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from collections.abc import Mapping
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from lightningstor_types.config import Settings

_NONCE = 12
_AAD = b"lightningstor/data-key/v1"


class UnknownKeyError(LookupError):
    """A key id the key manager does not hold (or a wrapped key it cannot open)."""


class KeyManager(Protocol):
    """Wraps data keys under named master keys; a real KMS (Vault transit, a cloud KMS) plugs
    in here. Master keys never leave it; only wrapped data keys are stored."""

    @property
    def active_key(self) -> str:
        """The key id new data keys are wrapped with."""
        ...

    async def wrap(self, key_id: str, data_key: bytes, context: bytes = b"") -> bytes:
        """``data_key`` wrapped by master key ``key_id`` (UnknownKeyError when it has none),
        authenticated with ``context`` (SSE-KMS's encryption context): unwrapping needs it."""
        ...

    async def unwrap(self, key_id: str, wrapped: bytes, context: bytes = b"") -> bytes:
        """The data key; UnknownKeyError when the key is absent or the wrapping does not open
        (with this ``context``)."""
        ...


class ChosenKey:
    """A key manager seen through one of its keys: new data keys are wrapped by ``key_id``
    (SSE-KMS names the key per request; empty: the active key) and bound to ``context`` (its
    encryption context); unwrapping still reaches every key, under that context."""

    def __init__(self, inner: KeyManager, key_id: str = "", context: bytes = b"") -> None:
        self._inner = inner
        self._key_id = key_id
        self._context = context

    @property
    def active_key(self) -> str:
        return self._key_id or self._inner.active_key

    async def wrap(self, key_id: str, data_key: bytes, context: bytes = b"") -> bytes:
        return await self._inner.wrap(key_id, data_key, context or self._context)

    async def unwrap(self, key_id: str, wrapped: bytes, context: bytes = b"") -> bytes:
        return await self._inner.unwrap(key_id, wrapped, context or self._context)


class StaticKeyManager:
    """Named 32-byte master keys held in memory; a data key is wrapped as
    ``nonce || AES-256-GCM(master, data key)`` bound to the key id."""

    def __init__(self, keys: Mapping[str, bytes], active: str) -> None:
        if active not in keys:
            raise ValueError(f"the active key {active!r} is not among the keys")
        for name, key in keys.items():
            if len(key) != 32:
                raise ValueError(f"encryption key {name!r} must be 32 bytes, got {len(key)}")
        self._keys = {name: AESGCM(key) for name, key in keys.items()}
        self._active = active

    @property
    def active_key(self) -> str:
        return self._active

    async def wrap(self, key_id: str, data_key: bytes, context: bytes = b"") -> bytes:
        nonce = os.urandom(_NONCE)
        return nonce + self._aead(key_id).encrypt(nonce, data_key, _aad(key_id, context))

    async def unwrap(self, key_id: str, wrapped: bytes, context: bytes = b"") -> bytes:
        try:
            return self._aead(key_id).decrypt(
                wrapped[:_NONCE], wrapped[_NONCE:], _aad(key_id, context)
            )
        except InvalidTag:
            raise UnknownKeyError(f"the data key does not open with key {key_id!r}") from None

    def _aead(self, key_id: str) -> AESGCM:
        try:
            return self._keys[key_id]
        except KeyError:
            raise UnknownKeyError(f"no encryption key {key_id!r}") from None


def _aad(key_id: str, context: bytes) -> bytes:
    # No context: exactly the AAD of wrappings made before contexts existed.
    aad = _AAD + key_id.encode()
    return aad + b"\0" + context if context else aad


def parse_key_file(text: str) -> dict[str, bytes]:
    """``NAME BASE64KEY`` lines, in order (blank lines and ``#`` comments skipped)."""
    keys: dict[str, bytes] = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, value = line.partition(" ")
        try:
            keys[name] = base64.b64decode(value.strip(), validate=True)
        except (ValueError, binascii.Error):
            raise ValueError(f"key file line {number}: expected NAME BASE64KEY") from None
    return keys


def load_key_manager(settings: Settings) -> StaticKeyManager:
    """The configured master keys (inline or key file); a missing default key file is created
    (mode 0600) with one key."""
    conf = settings.encryption
    if conf.keys:
        keys = {
            name: base64.b64decode(value.get_secret_value(), validate=True)
            for name, value in conf.keys.items()
        }
        return StaticKeyManager(keys, conf.active_key or next(iter(keys)))
    path = conf.key_file_path(settings)
    if not path.exists() and conf.key_file is None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(f"key-1 {base64.b64encode(secrets.token_bytes(32)).decode()}\n")
            f.flush()
            os.fsync(f.fileno())
    keys = parse_key_file(path.read_text())
    if not keys:
        raise ValueError(f"{path}: no encryption key")
    return StaticKeyManager(keys, conf.active_key or list(keys)[-1])
