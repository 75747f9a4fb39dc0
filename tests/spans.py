"""Spans in memory for tests: the SDK's in-memory exporter on the process's tracer provider."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from touchpoint_common.observability import tracing


@contextmanager
def recording_spans(*, enable: bool) -> Iterator[InMemorySpanExporter]:
    """Every span ended while the block runs, kept in memory; tracing is switched on (when
    `enable`: else the services' settings do it) and off again afterwards.

    The global provider can be set once per process: an SDK one already there is reused.
    """
    memory = InMemorySpanExporter()
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    if enable:
        tracing.enable_tracing()
    try:
        yield memory
    finally:
        tracing.disable_tracing()
        memory.shutdown()
