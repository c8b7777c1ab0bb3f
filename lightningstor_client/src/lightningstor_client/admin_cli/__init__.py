"""``lightningstor admin …``: operator commands, one module per group.

Each group module has an ``add_*_commands(subparsers)`` function that adds its commands;
:data:`GROUPS` lists them, and ``lightningstor admin`` is built from that list (a new group,
e.g. ``usage``, is one module and one entry here). A command is ``func(client, args)``; it
returns the process's exit code (None: 0).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from lightningstor_client.admin_cli.buckets import add_bucket_commands
from lightningstor_client.admin_cli.check import add_check_commands
from lightningstor_client.admin_cli.gc import add_gc_commands
from lightningstor_client.admin_cli.keys import add_key_commands
from lightningstor_client.admin_cli.public_access import add_public_access_commands
from lightningstor_client.admin_cli.sse import add_sse_commands
from lightningstor_client.admin_cli.storage import add_storage_commands
from lightningstor_client.admin_cli.tenants import add_tenant_commands
from lightningstor_client.admin_cli.usage import add_usage_commands

if TYPE_CHECKING:
    from lightningstor_client.admin_cli.output import Subparsers

GROUPS: Sequence[Callable[[Subparsers], None]] = (
    add_bucket_commands,
    add_key_commands,
    add_gc_commands,
    add_storage_commands,
    add_check_commands,
    add_usage_commands,
    add_tenant_commands,
    add_public_access_commands,
    add_sse_commands,
)
"""Every ``lightningstor admin`` group, in the order ``--help`` shows them."""


def add_admin_parser(commands: Subparsers) -> None:
    """Add ``admin`` and its groups to the ``lightningstor`` command's subparsers."""
    admin = commands.add_parser(
        "admin",
        help="operator commands (the platform admin role; tenants: an org admin too)",
        description="Operator commands; the caller needs the platform admin role (tenant "
        "commands, principals|roles|groups|bindings, and public-access-block: an org admin "
        "within its org).",
    )
    groups = admin.add_subparsers(dest="admin_command", required=True, metavar="GROUP")
    for add in GROUPS:
        add(groups)
