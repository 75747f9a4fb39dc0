"""Reads consumer-group positions, log-end offsets and record timestamps from the broker."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment

from touchpoint_common.kafka.configuration import CLOSE_BUDGET_S
from touchpoint_common.ops.lag import GroupState, LagReport, PartitionOffsets, build_report
from touchpoint_common.tasks import close_together

logger = logging.getLogger(__name__)

_CONSUMER_PROTOCOLS = {"consumer", ""}


def _decode_assignment(raw: bytes) -> list[TopicPartition]:
    if not raw:
        return []
    assignment = ConsumerProtocolMemberAssignment.decode(raw)
    return [
        TopicPartition(topic, partition)
        for topic, partitions in assignment.assignment
        for partition in partitions
    ]


class LagCollector:
    """Long-lived admin client and group-less consumer; rebuilt after any failure."""

    def __init__(
        self,
        *,
        bootstrap: str,
        client_id: str = "touchpoint-ops",
        request_timeout_ms: int = 5000,
        security: dict[str, Any] | None = None,
    ) -> None:
        self.bootstrap = bootstrap
        self.security = security or {}
        """TLS/SASL client options (kafka.configuration.get_security_config)."""
        self.client_id = client_id
        self.request_timeout_ms = request_timeout_ms
        self._admin: AIOKafkaAdminClient | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._lock = asyncio.Lock()

    async def _clients(self) -> tuple[AIOKafkaAdminClient, AIOKafkaConsumer]:
        if self._admin is None:
            admin = AIOKafkaAdminClient(
                **self.security,
                bootstrap_servers=self.bootstrap,
                client_id=f"{self.client_id}-admin",
                request_timeout_ms=self.request_timeout_ms,
            )
            await admin.start()
            self._admin = admin
        if self._consumer is None:
            consumer = AIOKafkaConsumer(
                **self.security,
                bootstrap_servers=self.bootstrap,
                client_id=f"{self.client_id}-reader",
                group_id=None,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                isolation_level="read_uncommitted",
                request_timeout_ms=self.request_timeout_ms,
                fetch_max_wait_ms=100,
            )
            await consumer.start()
            self._consumer = consumer
        return self._admin, self._consumer

    async def close(self) -> None:
        """Close both clients; the next collect opens new ones."""
        admin, consumer = self._admin, self._consumer
        self._admin, self._consumer = None, None
        await close_together(
            [
                *([consumer.stop()] if consumer is not None else []),
                *([admin.close()] if admin is not None else []),
            ],
            budget_s=CLOSE_BUDGET_S,
        )

    async def list_groups(self) -> list[str]:
        """Every consumer group the cluster knows, sorted."""
        admin, _ = await self._clients()
        listed = await admin.list_consumer_groups()
        return sorted({str(entry[0]) for entry in listed if str(entry[1]) in _CONSUMER_PROTOCOLS})

    async def collect(self, groups: Sequence[str] | None = None) -> LagReport:
        """Lag of the named groups (all groups when None), as of now."""
        async with self._lock:
            try:
                return await self._collect(groups)
            except BaseException:
                await self.close()
                raise

    async def _collect(self, groups: Sequence[str] | None) -> LagReport:
        admin, consumer = await self._clients()
        names = sorted(set(groups)) if groups is not None else await self.list_groups()
        described = await asyncio.gather(*(self._read_group(admin, name) for name in names))
        states = {name: state for name, (state, _) in zip(names, described, strict=True) if state}
        existing = await self._existing_partitions(
            admin, {tp.topic for _, positions in described for tp in positions}
        )
        # Offsets left behind on deleted topics have no log end to compare with: skip them.
        committed = {
            name: {tp: offset for tp, offset in positions.items() if tp in existing}
            for name, (_, positions) in zip(names, described, strict=True)
        }
        partitions = sorted({tp for per_group in committed.values() for tp in per_group})
        log_ends = await self._read_log_ends(consumer, partitions)
        wanted = {
            (tp, offset)
            for per_group in committed.values()
            for tp, offset in per_group.items()
            if offset is not None and offset < log_ends.get(tp, 0)
        }
        timestamps = await self._read_timestamps(consumer, wanted)
        now_ms = int(time.time() * 1000)
        offsets = [
            PartitionOffsets(
                group=name,
                topic=tp.topic,
                partition=tp.partition,
                committed=offset,
                log_end=log_ends.get(tp, 0),
                oldest_unconsumed_ms=timestamps.get((tp, offset)) if offset is not None else None,
            )
            for name, per_group in committed.items()
            for tp, offset in per_group.items()
        ]
        return build_report(offsets, now_ms=now_ms, groups=names, states=states)

    async def _read_log_ends(
        self, consumer: AIOKafkaConsumer, partitions: list[TopicPartition]
    ) -> dict[TopicPartition, int]:
        if not partitions:
            return {}
        # Assigning (paused, so nothing is fetched) loads metadata for every topic in one
        # request; end_offsets alone would learn one unknown topic per retry.
        consumer.assign(partitions)
        consumer.pause(*partitions)
        log_ends: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
        return log_ends

    async def _existing_partitions(
        self, admin: AIOKafkaAdminClient, topics: set[str]
    ) -> set[TopicPartition]:
        if not topics:
            return set()
        # All topics, not the named ones: naming a topic could auto-create it on some brokers.
        described: list[dict[str, Any]] = await admin.describe_topics()
        return {
            TopicPartition(entry["topic"], partition["partition"])
            for entry in described
            if entry["topic"] in topics and not entry["error_code"]
            for partition in entry["partitions"]
        }

    async def _read_group(
        self, admin: AIOKafkaAdminClient, name: str
    ) -> tuple[GroupState | None, dict[TopicPartition, int | None]]:
        """State, members' assignments and committed offsets of one group.

        One group per DescribeGroups request: aiokafka cannot decode a multi-group answer.
        """
        coordinator = await admin.find_coordinator(name)
        responses: list[Any] = await admin.describe_consumer_groups(
            [name], group_coordinator_id=coordinator
        )
        state: GroupState | None = None
        assigned: list[TopicPartition] = []
        for response in responses:
            for (
                error_code,
                group,
                group_state,
                protocol_type,
                _protocol,
                members,
            ) in response.groups:
                if error_code or group != name:
                    continue
                state = GroupState(state=group_state, members=len(members))
                if protocol_type == "consumer":
                    for member in members:
                        assigned.extend(_decode_assignment(member[4]))
        positions = await admin.list_consumer_group_offsets(name, group_coordinator_id=coordinator)
        per_group: dict[TopicPartition, int | None] = {
            tp: (meta.offset if meta.offset >= 0 else None) for tp, meta in positions.items()
        }
        for tp in assigned:
            per_group.setdefault(tp, None)
        return state, per_group

    async def _read_timestamps(
        self, consumer: AIOKafkaConsumer, wanted: set[tuple[TopicPartition, int]]
    ) -> dict[tuple[TopicPartition, int], int]:
        """Timestamp (ms) of the first record at or after each (partition, offset)."""
        found: dict[tuple[TopicPartition, int], int] = {}
        pending: dict[TopicPartition, list[int]] = defaultdict(list)
        for tp, offset in sorted(wanted, key=lambda item: (item[0].topic, item[0].partition)):
            pending[tp].append(offset)
        deadline = time.monotonic() + self.request_timeout_ms / 1000
        while pending and time.monotonic() < deadline:
            round_offsets = {tp: offsets.pop(0) for tp, offsets in pending.items()}
            pending = {tp: offsets for tp, offsets in pending.items() if offsets}
            found.update(await self._read_round(consumer, round_offsets, deadline))
        return found

    async def _read_round(
        self, consumer: AIOKafkaConsumer, offsets: dict[TopicPartition, int], deadline: float
    ) -> dict[tuple[TopicPartition, int], int]:
        consumer.assign(list(offsets))
        for tp, offset in offsets.items():
            consumer.seek(tp, offset)
        found: dict[tuple[TopicPartition, int], int] = {}
        try:
            while len(found) < len(offsets) and time.monotonic() < deadline:
                batches = await consumer.getmany(timeout_ms=200, max_records=len(offsets) * 50)
                for tp, records in batches.items():
                    start = offsets[tp]
                    first = next((record for record in records if record.offset >= start), None)
                    if first is not None and (tp, start) not in found:
                        found[(tp, start)] = int(first.timestamp)
                        consumer.pause(tp)
        finally:
            consumer.pause(*consumer.assignment())
        return found
