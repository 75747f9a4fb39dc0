"""The one path for records that cannot be used: the dead-letter topic, reason in headers."""

from __future__ import annotations

from dataclasses import dataclass

from aiokafka import ConsumerRecord
from pydantic import BaseModel, ConfigDict, Field

from touchpoint_common.kafka.publisher import OutgoingRecord, Publisher

DLQ_HEADER_PREFIX = "dlq_"
MAX_REASON_BYTES = 1000


class Rejected(Exception):
    """A record that breaks the contract: it goes to the dead-letter topic, never folded."""

    def __init__(self, reason: str, reason_class: str = "contract") -> None:
        super().__init__(reason)
        self.reason = reason
        self.reason_class = reason_class


_DIGITS = r"^[0-9]+$"


class DeadLetterHeaders(BaseModel):
    """The dlq_* headers a dead letter carries after the original record's own headers
    (UTF-8 strings on the wire). Published as contracts/ JSON Schema."""

    model_config = ConfigDict(extra="allow")

    dlq_reason: str = Field(max_length=MAX_REASON_BYTES)
    dlq_reason_class: str = Field(description="contract, undecodable, ... (the handler's class)")
    dlq_source_topic: str
    dlq_source_partition: str = Field(pattern=_DIGITS)
    dlq_source_offset: str = Field(pattern=_DIGITS)
    dlq_consumer_group: str


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A consumed record and why it cannot be used."""

    record: ConsumerRecord[bytes, bytes]
    reason: str
    reason_class: str


def get_dead_letter_headers(letter: DeadLetter, *, group: str) -> list[tuple[str, bytes]]:
    """The original headers plus the dlq_* headers of the wire contract."""
    record = letter.record
    original = [
        (key, value)
        for key, value in (record.headers or ())
        if not key.startswith(DLQ_HEADER_PREFIX)
    ]
    headers = DeadLetterHeaders(
        dlq_reason=letter.reason.encode()[:MAX_REASON_BYTES].decode(errors="ignore"),
        dlq_reason_class=letter.reason_class,
        dlq_source_topic=str(record.topic),
        dlq_source_partition=str(record.partition),
        dlq_source_offset=str(record.offset),
        dlq_consumer_group=group,
    )
    return [
        *original,
        *((name, value.encode()) for name, value in headers.model_dump(mode="json").items()),
    ]


def get_dead_letter_record(letter: DeadLetter, *, topic: str, group: str) -> OutgoingRecord:
    """The letter as it goes out: the original key and value, the reason in the headers."""
    return OutgoingRecord(
        topic=topic,
        key=letter.record.key,
        value=letter.record.value,
        headers=tuple(get_dead_letter_headers(letter, group=group)),
    )


async def send_dead_letters(
    publisher: Publisher,
    letters: list[DeadLetter],
    *,
    topic: str,
    group: str,
    timeout_s: float,
) -> None:
    """Write every letter and wait for the broker: only then may their offsets be committed."""
    await publisher.publish_all(
        [get_dead_letter_record(letter, topic=topic, group=group) for letter in letters],
        timeout_s=timeout_s,
    )
