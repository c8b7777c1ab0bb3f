"""Root spans for background work (GC, usage folding, repair passes, the readiness probe).

A pass of background work is no request: without a span of its own, each metadata or storage
call it makes would be a trace of one span, with no parent and no name saying why it ran.
:func:`background` starts a new trace (an INTERNAL root span, whatever span happens to be current)
around one pass, so its calls hang under it. :func:`untraced` runs a block whose calls must not
be traced at all (the readiness probe, asked every second). Without an installed provider
(tracing off) both are the OpenTelemetry API's no-ops.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import context, trace
from opentelemetry.trace import NonRecordingSpan, Span, SpanContext, SpanKind, TraceFlags

__all__ = ["background", "untraced"]

_tracer = trace.get_tracer("lightningstor.background")
_DROPPED = NonRecordingSpan(
    SpanContext(trace_id=1, span_id=1, is_remote=False, trace_flags=TraceFlags(0))
)
"""A parent that was not sampled: the ``ParentBased`` sampler drops every child of it."""


@contextmanager
def background(name: str) -> Iterator[Span]:
    """A new trace whose root span ``name`` is current for the block."""
    with _tracer.start_as_current_span(
        name, context=context.Context(), kind=SpanKind.INTERNAL
    ) as span:
        yield span


@contextmanager
def untraced() -> Iterator[None]:
    """The block's spans are not recorded (a parent not sampled: the sampler drops them)."""
    token = context.attach(trace.set_span_in_context(_DROPPED))
    try:
        yield
    finally:
        context.detach(token)
