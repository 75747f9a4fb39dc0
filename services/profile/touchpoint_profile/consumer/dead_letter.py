"""Records that cannot be folded go to the dead-letter topic with the reason in headers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A consumed record and why it cannot be folded."""

    record: Any
    reason: str
    reason_class: str


def get_dead_letter_headers(letter: DeadLetter, *, group: str) -> list[tuple[str, bytes]]:
    """The original headers plus the dlq_* headers of the wire contract."""
    record = letter.record
    original = [(key, value) for key, value in (record.headers or ()) if not key.startswith("dlq_")]
    return [
        *original,
        ("dlq_reason", letter.reason[:1000].encode()),
        ("dlq_reason_class", letter.reason_class.encode()),
        ("dlq_source_topic", str(record.topic).encode()),
        ("dlq_source_partition", str(record.partition).encode()),
        ("dlq_source_offset", str(record.offset).encode()),
        ("dlq_consumer_group", group.encode()),
    ]


async def send_dead_letters(
    producer: AIOKafkaProducer, letters: list[DeadLetter], *, topic: str, group: str
) -> None:
    """Write every letter and wait for the broker: only then may their offsets be committed."""
    futures = [
        await producer.send(
            topic,
            key=letter.record.key,
            value=letter.record.value,
            headers=get_dead_letter_headers(letter, group=group),
        )
        for letter in letters
    ]
    for future in futures:
        await future
