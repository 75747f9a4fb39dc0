"""Trace context read back from Kafka records, and the tracked consumer's spans.

The one place record headers are read for tracing (the publisher writes them). Per batch:
a `process <topic>` span linked to every distinct record context (a batch mixes many
requests, so it cannot be the child of each), with a `commit <group>` child around the
transaction; once the transaction committed, each distinct record context also gets its own
`commit <group>` span as its child (linked to the batch span), so the trace of a request
ends at the commit that made its events visible. Off, every function returns at once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from aiokafka import ConsumerRecord
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode

from touchpoint_common.observability import tracing

TRACE_HEADERS = frozenset({"traceparent", "tracestate"})
MAX_LINKS = 128
"""The SDK keeps at most 128 links per span by default: a bigger batch links the first."""


def get_record_carrier(record: ConsumerRecord[bytes, bytes]) -> dict[str, str]:
    """The record's W3C trace headers as text."""
    return {
        name: value.decode("ascii", errors="replace")
        for name, value in (record.headers or ())
        if name in TRACE_HEADERS and value is not None
    }


def get_record_context(record: ConsumerRecord[bytes, bytes]) -> tracing.TraceContext | None:
    """The trace context the record was produced in; None when off or it carries none."""
    if not tracing.is_enabled():
        return None
    return tracing.extract(get_record_carrier(record))


def get_record_traceparent(record: ConsumerRecord[bytes, bytes]) -> str | None:
    """The record's valid `traceparent` header as text; None when off or it carries none."""
    if get_record_context(record) is None:
        return None
    return get_record_carrier(record)["traceparent"]


@dataclass
class BatchTrace:
    """The spans of one batch: its own, and the distinct contexts its records came from."""

    span: Span | None = None
    contexts: list[tracing.TraceContext] = field(default_factory=list)

    def narrowed_to(self, record: ConsumerRecord[bytes, bytes]) -> BatchTrace:
        """The same batch span, with only this record's context (applied on its own)."""
        if self.span is None:
            return self
        context = get_record_context(record)
        return BatchTrace(span=self.span, contexts=[] if context is None else [context])


NO_TRACE = BatchTrace()


def get_distinct_contexts(
    records: Sequence[ConsumerRecord[bytes, bytes]],
) -> list[tracing.TraceContext]:
    """One context per distinct (trace, span) the records were produced in, in record order."""
    seen: dict[tuple[int, int], tracing.TraceContext] = {}
    for record in records:
        context = get_record_context(record)
        if context is None:
            continue
        span_context = tracing.get_span_context(context)
        seen.setdefault((span_context.trace_id, span_context.span_id), context)
    return list(seen.values())


@contextmanager
def trace_batch(
    records: Sequence[ConsumerRecord[bytes, bytes]], *, topic: str, group: str
) -> Iterator[BatchTrace]:
    """The batch span (current while the block runs), linked to its records' contexts."""
    if not tracing.is_enabled():
        yield NO_TRACE
        return
    contexts = get_distinct_contexts(records)
    links = [Link(tracing.get_span_context(context)) for context in contexts[:MAX_LINKS]]
    with tracing.get_tracer().start_as_current_span(
        f"process {topic}",
        kind=SpanKind.CONSUMER,
        links=links,
        attributes={
            "messaging.system": "kafka",
            "messaging.operation.type": "process",
            "messaging.destination.name": topic,
            "messaging.consumer.group.name": group,
            "messaging.batch.message_count": len(records),
        },
    ) as span:
        yield BatchTrace(span=span, contexts=contexts)


@contextmanager
def trace_commit(batch: BatchTrace, *, group: str, records: int) -> Iterator[None]:
    """A `commit <group>` span around the batch transaction; after it committed, one per
    record context too (same start and end, linked to the batch span)."""
    if batch.span is None:
        yield
        return
    tracer = tracing.get_tracer()
    name = f"commit {group}"
    attributes: dict[str, str | int] = {
        "db.system.name": "postgresql",
        "messaging.consumer.group.name": group,
        "messaging.batch.message_count": records,
    }
    started_ns = time.time_ns()
    with tracer.start_as_current_span(name, attributes=attributes):
        yield
    ended_ns = time.time_ns()
    batch_link = [Link(batch.span.get_span_context())]
    for context in batch.contexts:
        span = tracer.start_span(
            name,
            context=context,
            links=batch_link,
            attributes=attributes,
            start_time=started_ns,
        )
        span.set_status(Status(StatusCode.OK))
        span.end(end_time=ended_ns)
