"""``lightningstor-bench``, the load generator: S3 (own keep-alive HTTP/1.1 and SigV4) or gRPC.

See :mod:`lightningstor_client.bench.cli` for the command line and ``docs/benchmarks.md``.
"""

from lightningstor_client.bench.cli import main, parse_size
from lightningstor_client.bench.workloads import RunConfig, RunResult, run

__all__ = ["RunConfig", "RunResult", "main", "parse_size", "run"]
