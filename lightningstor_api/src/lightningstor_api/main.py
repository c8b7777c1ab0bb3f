"""``lightningstor-server``: load the configuration, set up logging, serve until told to stop.

``lightningstor-server backup --to FILE`` copies the embedded metadata store instead
(:mod:`lightningstor_api.backup`).
"""

from __future__ import annotations

import logging
import sys

import uvloop

from lightningstor_api import backup
from lightningstor_api.grpc.server import serve
from lightningstor_api.logs import setup_logging
from lightningstor_api.memory import tune_allocator
from lightningstor_types.config_loader import ConfigError, load_settings

log = logging.getLogger("lightningstor_api")


def main() -> None:
    if sys.argv[1:2] == ["backup"]:  # lightningstor-server backup --to FILE [server flags]
        sys.exit(backup.main(sys.argv[2:]))
    try:
        settings = load_settings(sys.argv[1:], distribution="lightningstor-api")
    except ConfigError as err:
        print(f"lightningstor-server: configuration error: {err}", file=sys.stderr)
        sys.exit(2)
    setup_logging(settings.logging.level, settings.logging.format)
    tune_allocator()
    try:
        uvloop.run(serve(settings))
    except OSError as err:  # an address in use, a data directory we may not write, …
        log.error("cannot run: %s", err)
        sys.exit(1)
    except Exception:
        log.exception("server failed")
        sys.exit(1)


if __name__ == "__main__":
    main()
