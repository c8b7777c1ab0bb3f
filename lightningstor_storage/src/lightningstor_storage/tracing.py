"""OpenTelemetry set-up shared by the server and the storage node, and the trace context that
crosses from one to the other.

- :func:`setup_tracing` installs the global exporting ``TracerProvider`` of a process from a
  ``[tracing]`` section (:class:`~lightningstor_types.config.TracingSettings`): the server
  (``lightningstor_api.tracing``) and the storage node (``lightningstor-storage-node``) call it,
  each with its own ``service.name``;
- :func:`outgoing_metadata` is the W3C ``traceparent``/``tracestate`` of the current span as gRPC
  metadata: the node client sends it with every call, so a node's spans join the server's trace.
  Without a current span (tracing off) there is nothing to inject and it is None;
- :class:`TraceIdFilter` adds the current trace id to log records (the access lines).

The SDK (and the OTLP exporter) are imported by :func:`setup_tracing` only: a process with
tracing off loads the OpenTelemetry API alone.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from opentelemetry import propagate, trace

from lightningstor_types.config import TracingSettings

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

__all__ = ["PROPAGATED", "TraceIdFilter", "outgoing_metadata", "setup_tracing"]

PROPAGATED = frozenset({"traceparent", "tracestate"})
"""The metadata keys of the W3C trace context (what :func:`outgoing_metadata` may send)."""


def setup_tracing(
    settings: TracingSettings, service_name: str, access_loggers: Sequence[str] = ()
) -> TracerProvider | None:
    """Install the exporting provider when ``otlp_endpoint`` or ``file`` is set (shut it down at
    exit: that flushes the spans still queued, each export bounded by
    ``export_timeout_seconds``, so an unreachable collector delays the stop only that long).
    ``access_loggers`` get a :class:`TraceIdFilter`."""
    if not settings.enabled:
        return None
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    provider = TracerProvider(
        resource=Resource.create({"service.name": service_name}),
        sampler=ParentBased(TraceIdRatioBased(settings.sample_ratio)),
    )
    timeout_ms = int(settings.export_timeout_seconds * 1000)
    if settings.otlp_endpoint is not None:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        # http:// means plain TCP, https:// TLS with the system's CAs (the exporter decides).
        exporter = OTLPSpanExporter(
            endpoint=settings.otlp_endpoint, timeout=settings.export_timeout_seconds
        )
        provider.add_span_processor(BatchSpanProcessor(exporter, export_timeout_millis=timeout_ms))
    if settings.file is not None:  # written by the processor's thread, off the event loop
        out = (
            sys.stderr if settings.file == "-" else Path(settings.file).open("a", encoding="utf-8")  # noqa: SIM115
        )
        lines = ConsoleSpanExporter(
            out=out, formatter=lambda span: span.to_json(indent=None) + "\n"
        )
        provider.add_span_processor(BatchSpanProcessor(lines, export_timeout_millis=timeout_ms))
    trace.set_tracer_provider(provider)
    for name in access_loggers:
        logging.getLogger(name).addFilter(TraceIdFilter())
    return provider


class TraceIdFilter(logging.Filter):
    """Adds ``trace_id`` (32 hex digits) to records written while a sampled span is current."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            record.trace_id = trace.format_trace_id(context.trace_id)
        return True


def outgoing_metadata() -> tuple[tuple[str, str], ...] | None:
    """The current trace context as gRPC metadata; None without a valid current span."""
    if not trace.get_current_span().get_span_context().is_valid:
        return None  # tracing off, or no span here: nothing to send
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return tuple((k, v) for k, v in carrier.items() if k in PROPAGATED) or None
