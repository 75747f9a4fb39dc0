"""OpenTelemetry traces: off by default and then free; exported over OTLP when configured.

Off (the default) nothing is set up: no tracer provider, no HTTP middleware, no span objects,
no header written to Kafka. Every helper here checks one module flag first and returns at
once. On (`TOUCHPOINT_TRACING_ENABLED=true`, or left unset with a standard
`OTEL_EXPORTER_OTLP_ENDPOINT` / `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` in the environment) the
SDK's tracer provider sends batches of spans over OTLP/HTTP; the exporter, sampler and
resource read the standard `OTEL_*` variables themselves (docs/operations.md).

Where the context travels: HTTP requests (FastAPI instrumentation) -> Kafka record headers
(W3C `traceparent`, written by `touchpoint_common.kafka.publisher`, read back by
`touchpoint_common.tracking.traces`) -> the tracked consumer's batch and commit spans.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ParamSpec, TypeAlias, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.trace import Span as Span
from opentelemetry.trace import SpanKind

if TYPE_CHECKING:
    from fastapi import FastAPI

    from touchpoint_common.settings import CommonSettings

logger = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")
Traced: TypeAlias = Callable[P, Coroutine[Any, Any, R]]
TRACER_NAME = "touchpoint"
TraceContext = Context
"""The OpenTelemetry context a piece of work belongs to (its current span)."""
OTLP_ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
_state = {"enabled": False}


def is_enabled() -> bool:
    """Whether this process records traces."""
    return _state["enabled"]


def wants_tracing(enabled: bool | None, environ: Mapping[str, str]) -> bool:
    """The setting decides when given; unset, a standard OTLP endpoint variable turns it on.
    OTEL_SDK_DISABLED=true always wins (the OpenTelemetry convention)."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if enabled is not None:
        return enabled
    return any(environ.get(name) for name in OTLP_ENDPOINT_VARIABLES)


def configure_tracing(settings: CommonSettings) -> bool:
    """Turn tracing on when configured: the SDK provider with the OTLP exporter, unless an SDK
    provider is installed already (a test's in-memory one, `opentelemetry-instrument`)."""
    if is_enabled():
        return True
    if not wants_tracing(settings.tracing_enabled, os.environ):
        return False
    # Imported only when on: a service without tracing never loads the SDK.
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider

    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        # OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES override the service's own name.
        resource = Resource.create({SERVICE_NAME: settings.service_name})
        provider = TracerProvider(resource=resource)
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        trace.set_tracer_provider(provider)
    enable_tracing()
    logger.info("tracing on: spans exported over OTLP")
    return True


def enable_tracing() -> None:
    """Record with the provider already installed (tests install an in-memory one)."""
    _state["enabled"] = True


def disable_tracing() -> None:
    """Stop recording (tests switch tracing off again; the provider stays installed)."""
    _state["enabled"] = False


def shutdown_tracing() -> None:
    """Flush the spans still queued for export (on a service's shutdown)."""
    if not is_enabled():
        return
    provider = trace.get_tracer_provider()
    force_flush = getattr(provider, "force_flush", None)
    if force_flush is not None:
        force_flush()


def instrument_app(app: FastAPI) -> None:
    """A server span per HTTP request, continuing an incoming `traceparent` (when on)."""
    if not is_enabled():
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(
        app,
        server_request_hook=drop_query,
        excluded_urls="healthz,readyz,metrics",
        exclude_spans=["receive", "send"],
    )


QUERY_ATTRIBUTES = ("http.target", "http.url", "url.query", "url.full")


def drop_query(span: Span | None, scope: Mapping[str, Any]) -> None:
    """A request span keeps its path, never its query: lookups carry phones, e-mails and
    loyalty ids there (personal data never leaves in a span)."""
    if span is None or not span.is_recording():
        return
    path = str(scope.get("path", ""))
    present = getattr(span, "attributes", None) or {}
    for name in QUERY_ATTRIBUTES:
        if name in present:
            span.set_attribute(name, "" if name == "url.query" else path)


def get_tracer() -> trace.Tracer:
    """The Touchpoint tracer of the installed provider."""
    return trace.get_tracer(TRACER_NAME)


def capture() -> TraceContext | None:
    """The current context, to carry into another task (None when tracing is off)."""
    return otel_context.get_current() if is_enabled() else None


def inject(trace_context: TraceContext | None) -> dict[str, str]:
    """W3C headers (`traceparent`, `tracestate`) for this context, or the current one; none
    when tracing is off or there is no span."""
    if not is_enabled():
        return {}
    carrier: dict[str, str] = {}
    propagate.inject(carrier, context=trace_context)
    return carrier


def extract(carrier: Mapping[str, str]) -> TraceContext | None:
    """The remote context W3C headers name; None when off or when they name no valid span."""
    if not is_enabled() or "traceparent" not in carrier:
        return None
    extracted = propagate.extract(carrier)
    span_context = trace.get_current_span(extracted).get_span_context()
    return extracted if span_context.is_valid else None


def get_span_context(trace_context: TraceContext) -> trace.SpanContext:
    """The span context of a context's current span."""
    return trace.get_current_span(trace_context).get_span_context()


def format_trace_id(trace_id: int) -> str:
    """A trace id as the 32 hex digits collectors show."""
    return trace.format_trace_id(trace_id)


def name_read_trace(span: Span | None, traceparent: str | None, *, what: str) -> None:
    """Record on `span` the trace in which the data it read was written: attributes
    `touchpoint.<what>.trace_id` / `.traceparent` and a link to that span."""
    if span is None or traceparent is None:
        return
    read = extract({"traceparent": traceparent})
    if read is None:
        return
    span_context = get_span_context(read)
    span.set_attribute(f"touchpoint.{what}.trace_id", format_trace_id(span_context.trace_id))
    span.set_attribute(f"touchpoint.{what}.traceparent", traceparent)
    span.add_link(span_context, {"touchpoint.link": f"read {what}"})


def current_span() -> Span | None:
    """The span of the running work; None when tracing is off."""
    return trace.get_current_span() if is_enabled() else None


def traced(name: str) -> Callable[[Traced[P, R]], Traced[P, R]]:
    """Run an async function under a span of this name (current while it runs), when on."""

    def decorate(function: Traced[P, R]) -> Traced[P, R]:
        @functools.wraps(function)
        async def run(*args: P.args, **kwargs: P.kwargs) -> R:
            if not is_enabled():
                return await function(*args, **kwargs)
            with get_tracer().start_as_current_span(name):
                return await function(*args, **kwargs)

        return run

    return decorate


@contextmanager
def start_span(
    name: str,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: Mapping[str, str | int | float | bool] | None = None,
    parent: TraceContext | None = None,
    links: Sequence[TraceContext] = (),
) -> Iterator[Span | None]:
    """A span as the current one while the block runs (child of `parent`, else of the current
    span; linked to each of `links`); None, and nothing made, when off."""
    if not is_enabled():
        yield None
        return
    with get_tracer().start_as_current_span(
        name,
        context=parent,
        kind=kind,
        attributes=attributes,
        links=[trace.Link(get_span_context(linked)) for linked in links],
    ) as span:
        yield span
