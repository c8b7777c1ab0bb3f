"""Encryption of stored secrets (AES-256-GCM) with a key from the configuration or a key file.

The key file (``iam.secret_key_file``, default ``{data_dir}/secret.key``) holds one line: the
base64 of 32 random bytes (44 characters), mode 0600. ``lightningstor-server keygen FILE`` makes
one; the default file is made on first start. Every server of a cluster needs the same key.
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from lightningstor_types.config import Settings

_NONCE = 12
_AAD = b"lightningstor/credential/v1"


class SecretBox:
    """Seals and opens short secrets; the output is ``nonce || ciphertext+tag``."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("the secret-encryption key must be 32 bytes")
        self._aead = AESGCM(key)

    def seal(self, plaintext: str, *, context: str) -> bytes:
        """Encrypt, binding the ciphertext to ``context`` (the access key id)."""
        nonce = os.urandom(_NONCE)
        return nonce + self._aead.encrypt(nonce, plaintext.encode(), _AAD + context.encode())

    def open(self, sealed: bytes, *, context: str) -> str:
        """Decrypt; raises ``cryptography.exceptions.InvalidTag`` on a wrong key or context."""
        nonce, body = sealed[:_NONCE], sealed[_NONCE:]
        return self._aead.decrypt(nonce, body, _AAD + context.encode()).decode()


def _decode_key(text: str) -> bytes:
    return base64.b64decode(text.strip(), validate=True)


def write_new_key(path: Path) -> None:
    """A new key file at ``path`` (mode 0600); never replaces one (FileExistsError): the old
    key is what decrypts the secrets already stored."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(base64.b64encode(secrets.token_bytes(32)).decode() + "\n")
        f.flush()
        os.fsync(f.fileno())


def load_secret_box(settings: Settings) -> SecretBox:
    """The configured key (inline or file); a missing default key file is created (0600)."""
    if settings.iam.secret_key is not None:
        return SecretBox(_decode_key(settings.iam.secret_key.get_secret_value()))
    path: Path = settings.iam.secret_key_path(settings)
    if not path.exists():
        if settings.iam.secret_key_file is not None:
            # A named file is shared by every server: made once by the operator, never here.
            raise FileNotFoundError(
                f"iam.secret_key_file {path} does not exist: create it once with "
                f"`lightningstor-server keygen {path}` and copy it to every server"
            )
        write_new_key(path)
    return SecretBox(_decode_key(path.read_text()))
