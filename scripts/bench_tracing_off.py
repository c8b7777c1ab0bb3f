"""What a no-op span would cost on the request path with tracing off (why nothing is there).

Run: ``uv run python scripts/bench_tracing_off.py``. Prints microseconds per use of a no-op
``start_as_current_span`` (no provider installed: the API's proxy tracer), of
``get_current_span()`` (what a log filter or an attribute setter would do), and of the empty
loop, so the difference is the cost that turning tracing off avoids.
"""

from __future__ import annotations

import timeit

from opentelemetry import trace

N = 200_000


def main() -> None:
    tracer = trace.get_tracer("bench")

    def span() -> None:
        with tracer.start_as_current_span("x"):
            pass

    def current() -> None:
        trace.get_current_span().is_recording()

    def nothing() -> None:
        pass

    for name, fn in (("no-op span", span), ("get_current_span", current), ("empty", nothing)):
        best = min(timeit.repeat(fn, number=N, repeat=5)) / N
        print(f"{name:18} {best * 1e6:7.3f} us")


if __name__ == "__main__":
    main()
