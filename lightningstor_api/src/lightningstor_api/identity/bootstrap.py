"""First start: create an admin principal and access key, and tell the operator once."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from pathlib import Path

from lightningstor_api.identity.credentials import CredentialManager
from lightningstor_types.scope import Principal

log = logging.getLogger(__name__)

ADMIN = Principal("admin", "default", None)
ADMIN_CREDENTIALS_FILE = "admin-credentials.json"


async def ensure_admin_credential(manager: CredentialManager, data_dir: Path) -> Path | None:
    """With no credential stored at all, create the admin key and write it to a 0600 file.

    Returns the file written, or None when credentials already existed.
    """
    if await manager.any_exist():
        return None
    key, secret = await manager.create(ADMIN, description="created at first start")
    path = data_dir / ADMIN_CREDENTIALS_FILE
    await asyncio.to_thread(_write_private, path, key.access_key_id, secret)
    log.warning(
        "created the first admin access key %s; its secret is in %s (readable only by its owner)",
        key.access_key_id,
        path,
    )
    return path


def _write_private(path: Path, access_key_id: str, secret: str) -> None:
    """Write the admin key to ``path`` (0600), atomically and durably."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(
            {
                "access_key_id": access_key_id,
                "secret_access_key": secret,
                "principal_id": ADMIN.principal_id,
                "org_id": ADMIN.org_id,
            },
            f,
            indent=2,
        )
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)
