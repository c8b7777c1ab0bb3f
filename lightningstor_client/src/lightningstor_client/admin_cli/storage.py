"""``lightningstor admin storage status``: the chunk backend, its nodes and repair."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from lightningstor_client.admin_cli.output import add_command, size, to_json

if TYPE_CHECKING:
    from lightningstor_client._sync import LightningStorClient
    from lightningstor_client.admin_cli.output import Subparsers


def cmd_status(client: LightningStorClient, args: argparse.Namespace) -> None:
    st = client.storage_status()
    if args.json:
        print(to_json(st))
        return
    print(f"backend: {st.backend} (durable: {st.durable}, checksums: {st.verifies_checksums})")
    if st.backend != "replicated":
        return
    print(f"replication factor {st.replication_factor}, write quorum {st.write_quorum}")
    for n in st.nodes:
        state = ("up" if n.up else "DOWN") + (", draining" if n.draining else "")
        print(
            f"  {n.address:<22} {n.zone or '-':<10} {state:<15} {n.chunk_count:>9} chunks  "
            f"{size(n.free_bytes)} free of {size(n.capacity_bytes)}"
            + (f"  last error: {n.last_error}" if n.last_error else "")
        )
    r = st.repair
    if r is not None:
        print(
            f"repair: {r.passes} passes ({'running' if r.running else 'idle'}, "
            f"{r.pass_checked}/{r.last_pass_chunks or '?'} chunks this pass), backlog {r.backlog}, "
            f"{r.replicas_restored} replicas restored, {r.chunks_lost} chunks lost, "
            f"scrub rate {size(r.scrub_rate_bytes_per_second)}/s"
        )


def add_storage_commands(groups: Subparsers) -> None:
    storage = groups.add_parser("storage", help="chunk storage: status")
    sub = storage.add_subparsers(dest="storage_command", required=True, metavar="COMMAND")
    add_command(sub, "status", cmd_status, "the backend, its storage nodes and repair progress")
