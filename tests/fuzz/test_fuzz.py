"""Issue 12's fuzz test, short form (about a minute): seeded S3 requests over SigV4 headers and
presigned queries, aws-chunked framing, Range, XML bodies, keys and header values, bucket
policies, the configuration documents (ACL, CORS, lifecycle, Object Lock, encryption,
ownership, public access block, tagging), grant headers, POST forms and SSE-C headers, through
the S3 app in process and over sockets (behind fuzzed PROXY headers) to a real server, and
fuzzed calls through the gRPC client. No 5xx (501 NotImplemented and 503 SlowDown aside), no
hang, no cut response, no traceback.

``LIGHTNINGSTOR_FUZZ_SEED`` picks another seed; ``make fuzz`` is the long mode (10^6 inputs).
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.fuzz.run import fuzz

SEED = int(os.environ.get("LIGHTNINGSTOR_FUZZ_SEED", "20261207"))


def test_no_input_gets_a_5xx_a_hang_or_a_traceback(tmp_path: Path) -> None:
    inproc, wire = fuzz(tmp_path, seed=SEED, asgi=25_000, socket=2_000, grpc=1_500)
    for tally in (inproc, wire):
        assert (tally.failures, tally.hangs, tally.tracebacks) == (0, 0, 0), (
            f"seed {SEED}: {tally.summary()}\n" + "\n".join(tally.examples)
        )
    # the inputs reached the handlers, not only the signature check
    statuses = inproc.statuses + wire.statuses
    assert statuses[200] > 1000 and statuses[206] > 50 and statuses[416] > 50
