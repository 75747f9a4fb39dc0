"""The JSON Schemas of every Kafka record Touchpoint writes, generated from the models."""

from __future__ import annotations

import copy
import inspect
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from touchpoint_common.events.codec import InteractionHeaders, InteractionKey
from touchpoint_common.events.models import SCHEMA_VERSION, WIRE_PAYLOAD_MODELS, InteractionEvent
from touchpoint_common.settings import CommonSettings
from touchpoint_common.tracking.dead_letter import DeadLetterHeaders
from touchpoint_profile.ranking.models import RankingHeaders, RankingRecord

Schema = dict[str, Any]
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
PARTS = ("key", "headers", "value")


@dataclass(frozen=True)
class Topic:
    """One topic of the contract: its name, what it carries, and its records' three schemas."""

    name: str
    slug: str
    summary: str
    key: Schema
    headers: Schema
    value: Schema

    def schemas(self) -> dict[str, Schema]:
        """The record's schemas by part (key, headers, value)."""
        return {"key": self.key, "headers": self.headers, "value": self.value}


class TraceContextHeaders(BaseModel):
    """W3C trace context the publisher adds to every record when tracing is on (a dead
    letter keeps the original's)."""

    traceparent: str | None = Field(
        default=None, pattern=r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"
    )
    tracestate: str | None = None


def _headers_schema(model: type[BaseModel]) -> Schema:
    """A headers model's schema with the optional trace-context headers every record may carry."""
    schema = _model_schema(model)
    trace = TraceContextHeaders.model_json_schema(mode="serialization")["properties"]
    for name, property_schema in trace.items():
        property_schema["description"] = inspect.cleandoc(TraceContextHeaders.__doc__ or "")
        schema["properties"].setdefault(name, property_schema)
    return schema


def _model_schema(model: type[BaseModel], title: str | None = None) -> Schema:
    """The model's JSON Schema (serialisation side: what producers write), with a dialect."""
    schema = model.model_json_schema(mode="serialization", by_alias=True)
    if title is not None:
        schema["title"] = title
    return {"$schema": JSON_SCHEMA_DIALECT, **schema}


def _string_key(model: type[BaseModel], field: str) -> Schema:
    """A key that is one string field of the model (the key bytes are that text, UTF-8)."""
    schema = copy.deepcopy(model.model_json_schema()["properties"][field])
    schema["title"] = model.__name__
    schema["description"] = inspect.cleandoc(model.__doc__ or "")
    return {"$schema": JSON_SCHEMA_DIALECT, **schema}


def interaction_value_schema() -> Schema:
    """InteractionEvent, with `payload` tied to its type's model (one if/then per type)."""
    schema = _model_schema(InteractionEvent)
    definitions: dict[str, Schema] = schema.setdefault("$defs", {})
    conditions = []
    for event_type, payload_model in sorted(WIRE_PAYLOAD_MODELS.items()):
        payload_schema = payload_model.model_json_schema(
            mode="serialization", ref_template="#/$defs/{model}"
        )
        definitions.update(payload_schema.pop("$defs", {}))
        definitions[payload_model.__name__] = payload_schema
        conditions.append(
            {
                "if": {"properties": {"type": {"const": event_type.value}}},
                "then": {"properties": {"payload": {"$ref": f"#/$defs/{payload_model.__name__}"}}},
            }
        )
    schema["allOf"] = conditions
    schema["x-schema-version"] = SCHEMA_VERSION
    return schema


def _default_topic(field: str) -> str:
    """A topic's default (production) name, whatever the environment says."""
    name: str = CommonSettings.model_fields[field].default
    return name


def get_topics() -> list[Topic]:
    """Every topic Touchpoint writes, under its default (production) name."""
    interaction_key = _string_key(InteractionKey, "customer_id")
    return [
        Topic(
            name=_default_topic("topic_interactions"),
            slug="interactions",
            summary=(
                "Every touchpoint, one record per event (offer_presented and offer_response "
                "included: offers have no topic of their own), keyed by customer_id."
            ),
            key=interaction_key,
            headers=_headers_schema(InteractionHeaders),
            value=interaction_value_schema(),
        ),
        Topic(
            name=_default_topic("topic_dead_letter"),
            slug="interactions-dlq",
            summary=(
                "Interactions records a consumer could not use: the original key, value and "
                "headers, unchanged, plus the dlq_* headers saying why and where from."
            ),
            key={**interaction_key, "description": "The original record's key, unchanged."},
            headers=_headers_schema(DeadLetterHeaders),
            value={
                "$schema": JSON_SCHEMA_DIALECT,
                "title": "DeadLetterValue",
                "description": (
                    "The original record's value, byte for byte: usually an InteractionEvent, "
                    "but possibly not JSON at all (that may be why it is here)."
                ),
            },
        ),
        Topic(
            name=_default_topic("topic_rankings"),
            slug="rankings",
            summary=(
                "The base-wide ranking (cut points, ABC, CLV) and figures, one record per "
                "version on a compacted topic: the newest value stays."
            ),
            key={
                "$schema": JSON_SCHEMA_DIALECT,
                "title": "RankingKey",
                "const": "base_ranking",
                "description": "Always base_ranking: compaction keeps the newest ranking.",
            },
            headers=_headers_schema(RankingHeaders),
            value=_model_schema(RankingRecord),
        ),
    ]


def get_schema_files(topics: list[Topic]) -> dict[str, Schema]:
    """The schema files by path under contracts/: schemas/<topic slug>/<part>.json."""
    return {
        f"schemas/{topic.slug}/{part}.json": schema
        for topic in topics
        for part, schema in topic.schemas().items()
    }


def get_asyncapi(topics: list[Topic]) -> Schema:
    """An AsyncAPI 3.0 document: one channel per topic, its message referencing the schema
    files, and the operation the services perform on it."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for topic in topics:
        message_name = f"{topic.slug.replace('-', '_')}_record"
        messages[message_name] = {
            "name": message_name,
            "summary": topic.summary,
            "contentType": "application/json",
            "headers": {
                "schemaFormat": "application/schema+json;version=draft-2020-12",
                "schema": {"$ref": f"./schemas/{topic.slug}/headers.json"},
            },
            "payload": {
                "schemaFormat": "application/schema+json;version=draft-2020-12",
                "schema": {"$ref": f"./schemas/{topic.slug}/value.json"},
            },
            "bindings": {
                "kafka": {
                    "key": {"$ref": f"./schemas/{topic.slug}/key.json"},
                    "bindingVersion": "0.5.0",
                }
            },
        }
        channel_name = topic.slug.replace("-", "_")
        channels[channel_name] = {
            "address": topic.name,
            "description": topic.summary,
            "messages": {
                message_name: {"$ref": f"#/components/messages/{message_name}"},
            },
            "bindings": {"kafka": {"topic": topic.name, "bindingVersion": "0.5.0"}},
        }
        operations[f"publish_{channel_name}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{channel_name}"},
            "messages": [{"$ref": f"#/channels/{channel_name}/messages/{message_name}"}],
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Touchpoint wire contract",
            "version": f"{SCHEMA_VERSION}.0.0",
            "description": (
                "The Kafka records Touchpoint writes. Generated by `make schemas` from the "
                "pydantic models; the versioning policy is docs/contracts.md."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {
            "kafka": {
                "host": "localhost:9092",
                "protocol": "kafka",
                "description": "TOUCHPOINT_KAFKA_BOOTSTRAP",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }
