"""The one path for records that cannot be used: the dead-letter topic, reason in headers."""

from __future__ import annotations

from dataclasses import dataclass

from aiokafka import ConsumerRecord

from touchpoint_common.kafka.publisher import OutgoingRecord, Publisher

DLQ_HEADER_PREFIX = "dlq_"
MAX_REASON_BYTES = 1000


class Rejected(Exception):
    """A record that breaks the contract: it goes to the dead-letter topic, never folded."""

    def __init__(self, reason: str, reason_class: str = "contract") -> None:
        super().__init__(reason)
        self.reason = reason
        self.reason_class = reason_class


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
    return [
        *original,
        ("dlq_reason", letter.reason.encode()[:MAX_REASON_BYTES]),
        ("dlq_reason_class", letter.reason_class.encode()),
        ("dlq_source_topic", str(record.topic).encode()),
        ("dlq_source_partition", str(record.partition).encode()),
        ("dlq_source_offset", str(record.offset).encode()),
        ("dlq_consumer_group", group.encode()),
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
