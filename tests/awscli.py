"""The AWS CLI as the tests run it: the virtualenv's ``aws``, with an environment that holds
only the given key (no profile or credentials file of the machine is read)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

AWS = str(Path(sys.executable).with_name("aws"))


def aws_env(access_key: str, secret_key: str, home: Path) -> dict[str, str]:
    """An environment for ``aws`` with this key, region us-east-1 and ``home`` as its home."""
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "AWS_ACCESS_KEY_ID": access_key,
        "AWS_SECRET_ACCESS_KEY": secret_key,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(home / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "none"),
    }
