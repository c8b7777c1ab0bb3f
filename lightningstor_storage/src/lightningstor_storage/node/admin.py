"""``lightningstor-storage-admin``: ask storage nodes for their state, or tell one to drain.

    lightningstor-storage-admin info HOST:PORT [HOST:PORT ...]
    lightningstor-storage-admin drain HOST:PORT        # servers move its chunks away
    lightningstor-storage-admin undrain HOST:PORT

Each answer is one JSON object per node (id, zone, capacity, free bytes, chunks, draining). A
drained node holds no chunk that metadata references once every server's repair has run a full
pass (its ``chunks`` count falls to the orphans, which the servers' sweep removes); then it can
leave the node list. ``--ca/--cert/--key`` reach nodes that require TLS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from lightningstor_storage.backend import StorageError
from lightningstor_storage.replicated.client import NodeClient
from lightningstor_types.config import ClientTlsSettings

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lightningstor-storage-admin", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("command", choices=("info", "drain", "undrain"))
    parser.add_argument("nodes", nargs="+", metavar="HOST:PORT")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per call")
    parser.add_argument("--ca", type=Path, help="CA bundle of the nodes' certificates")
    parser.add_argument("--cert", type=Path, help="client certificate (mutual TLS)")
    parser.add_argument("--key", type=Path, help="its private key")
    return parser


async def _one(command: str, client: NodeClient) -> int:
    address = client.address
    try:
        if command == "info":
            info = await client.info()
        else:
            info = await client.set_draining(command == "drain")
    except StorageError as exc:
        print(json.dumps({"address": address, "error": str(exc)}))
        return 1
    finally:
        await client.close()
    print(
        json.dumps(
            {
                "address": address,
                "node_id": info.node_id,
                "zone": info.zone,
                "capacity_bytes": info.capacity_bytes,
                "free_bytes": info.free_bytes,
                "chunks": info.chunk_count,
                "draining": info.draining,
                "version": info.version,
            }
        )
    )
    return 0


async def _run(args: argparse.Namespace) -> int:
    tls = None
    if args.ca or args.cert or args.key:
        tls = ClientTlsSettings(ca_file=args.ca, cert_file=args.cert, key_file=args.key)
    codes = [
        await _one(args.command, NodeClient(a, timeout=args.timeout, tls=tls)) for a in args.nodes
    ]
    return max(codes)


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    sys.exit(asyncio.run(_run(args)))


if __name__ == "__main__":
    main()
