"""``lightningstor-server``: load the configuration, set up logging, serve until told to stop.

``lightningstor-server backup --to FILE`` copies the embedded metadata store instead
(:mod:`lightningstor_api.backup`); ``lightningstor-server keygen FILE`` writes a new key for
``iam.secret_key_file`` (:mod:`lightningstor_api.keygen`). With ``[server] processes`` above 1
this process is the supervisor of that many workers (:mod:`lightningstor_api.supervisor`), each
of them this program again with ``$LIGHTNINGSTOR_WORKER`` set.
"""

from __future__ import annotations

import logging
import sys

import uvloop

from lightningstor_api import backup, keygen
from lightningstor_api.supervisor import supervise
from lightningstor_api.workers import follow_supervisor, worker_settings
from lightningstor_types.config_loader import ConfigError, load_settings
from lightningstor_types.logs import setup_logging
from lightningstor_types.memory import tune_allocator
from lightningstor_types.open_files import raise_open_file_limit

log = logging.getLogger("lightningstor_api")


def main() -> None:
    if sys.argv[1:2] == ["backup"]:  # lightningstor-server backup --to FILE [server flags]
        sys.exit(backup.main(sys.argv[2:]))
    if sys.argv[1:2] == ["keygen"]:  # lightningstor-server keygen FILE
        sys.exit(keygen.main(sys.argv[2:]))
    try:
        settings = load_settings(sys.argv[1:], distribution="lightningstor-api")
    except ConfigError as err:
        print(f"lightningstor-server: configuration error: {err}", file=sys.stderr)
        sys.exit(2)
    settings, role = worker_settings(settings)
    fields = {"worker": role.index} if role.shared else None
    setup_logging(settings.logging.level, settings.logging.format, fields=fields)
    raise_open_file_limit()  # each connection is a descriptor; workers inherit the limit
    if settings.server.processes > 1 and not role.shared:
        try:
            sys.exit(supervise(settings, sys.argv[1:]))
        except OSError as err:  # an address in use, a data directory we may not write, …
            log.error("cannot run: %s", err)
            sys.exit(1)
    follow_supervisor(role)
    tune_allocator()
    from lightningstor_api.grpc.server import serve  # here: the supervisor never loads the server

    try:
        uvloop.run(serve(settings, role))
    except OSError as err:  # an address in use, a data directory we may not write, …
        log.error("cannot run: %s", err)
        sys.exit(1)
    except Exception:
        log.exception("server failed")
        sys.exit(1)


if __name__ == "__main__":
    main()
