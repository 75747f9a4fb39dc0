"""Tracing: off by default and then inert; on, the context goes out in record headers and comes
back from them, and the tracked consumer's spans name the records' traces."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
from aiokafka import ConsumerRecord
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.spans import recording_spans
from touchpoint_common.kafka.publisher import OutgoingRecord, get_wire_headers
from touchpoint_common.observability import tracing
from touchpoint_common.tracking.traces import (
    NO_TRACE,
    get_record_context,
    get_record_traceparent,
    trace_batch,
    trace_commit,
)

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def _record(headers: list[tuple[str, bytes]]) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(
        topic="t", partition=0, offset=0, timestamp=0, timestamp_type=0, key=b"c", value=b"{}",
        checksum=None, serialized_key_size=1, serialized_value_size=2, headers=tuple(headers),
    )  # fmt: skip


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Tracing on for one test, its spans in memory."""
    with recording_spans(enable=True) as memory:
        yield memory


@pytest.mark.parametrize(
    ("setting", "environ", "expected"),
    [
        (None, {}, False),
        (None, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        (None, {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}, True),
        (False, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, False),
        (True, {}, True),
        (True, {"OTEL_SDK_DISABLED": "true"}, False),
    ],
)
def test_tracing_is_on_only_when_configured(
    setting: bool | None, environ: dict[str, str], expected: bool
) -> None:
    """Unset, a standard OTLP endpoint variable turns tracing on; the setting overrides it;
    OTEL_SDK_DISABLED=true always wins."""
    assert tracing.wants_tracing(setting, environ) is expected


def test_off_nothing_is_made_and_no_header_is_written() -> None:
    """Off (the default): no context captured, no span, no trace header, no context read."""
    assert not tracing.is_enabled()
    record = OutgoingRecord(topic="t", value=b"{}", headers=(("event_id", b"1"),))
    assert get_wire_headers(record) == [("event_id", b"1")]
    assert tracing.capture() is None
    with tracing.start_span("nothing") as span:
        assert span is None
    with trace_batch([_record([])], topic="t", group="g") as batch:
        assert batch is NO_TRACE
    assert get_record_context(_record([("traceparent", TRACEPARENT.encode())])) is None


def test_the_record_carries_the_context_it_was_given(spans: InMemorySpanExporter) -> None:
    """A record published with a request's context carries that span as its traceparent,
    wherever it is published from; a consumer reads the same span context back."""
    with tracing.start_span("request") as request:
        assert request is not None
        captured = tracing.capture()
    with tracing.start_span("another task"):
        headers = get_wire_headers(OutgoingRecord(topic="t", value=b"{}", trace=captured))
    traceparent = dict(headers)["traceparent"].decode()
    expected = request.get_span_context()
    trace_id, span_id = (
        trace.format_trace_id(expected.trace_id),
        trace.format_span_id(expected.span_id),
    )
    assert traceparent.startswith(f"00-{trace_id}-{span_id}-")
    context = get_record_context(_record(headers))
    assert context is not None
    assert tracing.get_span_context(context).span_id == expected.span_id


def test_a_dead_letter_keeps_its_original_traceparent(spans: InMemorySpanExporter) -> None:
    """A record that carries a traceparent already is sent as it is (one traceparent)."""
    record = OutgoingRecord(
        topic="t", value=b"{}", headers=(("traceparent", TRACEPARENT.encode()),)
    )
    with tracing.start_span("dead-lettering"):
        headers = get_wire_headers(record)
    assert headers == [("traceparent", TRACEPARENT.encode())]


def test_a_malformed_traceparent_is_no_context(spans: InMemorySpanExporter) -> None:
    """A header that names no valid span is ignored, never an error."""
    assert get_record_traceparent(_record([("traceparent", b"garbage")])) is None
    assert get_record_traceparent(_record([("traceparent", TRACEPARENT.encode())])) == TRACEPARENT


def test_the_commit_ends_each_record_trace(spans: InMemorySpanExporter) -> None:
    """A batch of records from two traces: one batch span linked to both, and after the
    commit one `commit <group>` span in each trace, linked back to the batch span."""
    other = "00-11111111111111111111111111111111-2222222222222222-01"
    records = [
        _record([("traceparent", TRACEPARENT.encode())]),
        _record([("traceparent", other.encode())]),
        _record([("traceparent", TRACEPARENT.encode())]),
    ]
    with (
        trace_batch(records, topic="t", group="g") as batch,
        trace_commit(batch, group="g", records=3),
    ):
        pass
    finished = spans.get_finished_spans()
    [process] = [span for span in finished if span.name == "process t"]
    commits = [span for span in finished if span.name == "commit g"]
    assert len(process.links) == 2
    assert process.context is not None
    per_trace = {
        trace.format_trace_id(span.context.trace_id)
        for span in commits
        if span.context is not None and span.links
    }
    assert per_trace == {"0af7651916cd43dd8448eb211c80319c", "11111111111111111111111111111111"}
    assert all(span.links[0].context == process.context for span in commits if span.links)


def test_a_failed_commit_ends_no_record_trace(spans: InMemorySpanExporter) -> None:
    """A transaction that fails marks the batch's commit span and closes no record's trace."""
    records = [_record([("traceparent", TRACEPARENT.encode())])]
    with (
        pytest.raises(RuntimeError),
        trace_batch(records, topic="t", group="g") as batch,
        trace_commit(batch, group="g", records=1),
    ):
        raise RuntimeError("database gone")
    commits = [span for span in spans.get_finished_spans() if span.name == "commit g"]
    assert [span.links for span in commits] == [()]
    assert not commits[0].status.is_ok


def test_off_a_service_never_loads_the_sdk() -> None:
    """Built with tracing off, a service app imports neither the SDK nor the HTTP
    instrumentation (a fresh interpreter, so this test process's imports do not count)."""
    probe = (
        "import sys\n"
        "from touchpoint_ingest.main import create_app\n"
        "from touchpoint_ingest.settings import IngestSettings\n"
        "create_app(IngestSettings(tracing_enabled=False))\n"
        "loaded = [m for m in sys.modules if m.startswith(('opentelemetry.sdk', "
        "'opentelemetry.instrumentation', 'opentelemetry.exporter'))]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", probe], check=True, timeout=120)
