"""``lightningstor-server keygen FILE``: a new key for ``iam.secret_key_file``.

The file is one line, the base64 of 32 random bytes, written with mode 0600 and never over an
existing file (that key decrypts the S3 secrets already stored). Copy the same file to every
server of a cluster.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from lightningstor_api.identity.sealing import write_new_key

__all__ = ["main"]

PROG = "lightningstor-server keygen"


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "Write a new secret-encryption key (iam.secret_key_file): one line of base64, 32 "
            "random bytes, mode 0600. Refuses to replace an existing file."
        ),
    )
    parser.add_argument("file", metavar="FILE", type=Path)
    args = parser.parse_args(argv)
    try:
        write_new_key(args.file)
    except FileExistsError:
        print(
            f"{PROG}: {args.file} exists; it is the key of the secrets already stored, "
            "so it is kept (remove it first only if nothing was ever stored with it)",
            file=sys.stderr,
        )
        return 1
    except OSError as err:
        print(f"{PROG}: {err}", file=sys.stderr)
        return 1
    print(f"wrote {args.file} (mode 0600): set iam.secret_key_file to it on every server")
    return 0
