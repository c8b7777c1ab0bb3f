"""``lightningstor-storage-node``: load the node's configuration, log, serve until told to stop."""

from __future__ import annotations

import asyncio
import logging
import sys

from lightningstor_storage.node.server import serve
from lightningstor_types.config_loader import ConfigError, load_storage_node_settings
from lightningstor_types.logs import setup_logging
from lightningstor_types.memory import tune_allocator

log = logging.getLogger("lightningstor_storage.node")


def main() -> None:
    try:
        settings = load_storage_node_settings(sys.argv[1:], distribution="lightningstor-storage")
    except ConfigError as err:
        print(f"lightningstor-storage-node: configuration error: {err}", file=sys.stderr)
        sys.exit(2)
    setup_logging(settings.logging.level, settings.logging.format)
    tune_allocator()  # chunks are read and written in 1 MiB pieces, as in the server
    try:
        asyncio.run(serve(settings))
    except OSError as err:  # an address in use, a data directory we may not write, …
        log.error("cannot run: %s", err)
        sys.exit(1)
    except Exception:
        log.exception("storage node failed")
        sys.exit(1)


if __name__ == "__main__":
    main()
