"""A minimal Quix Streams application: per-customer 30-day windowed counts and spend.

The reference the profile fold is compared with (bench/quix.py runs it in a subprocess, once
per processing guarantee). It reads the interactions topic from the earliest offset with its
own consumer group, decodes each record's JSON value (Quix's JSON deserializer, no schema
validation), takes the event time from `occurred_at`, and keeps per customer (the record key)
a 30-day tumbling window of event count, purchase count, spend and last purchase time in
RocksDB state backed by changelog topics. It stops once every partition is processed up to
the end offsets given on the command line and prints one JSON line of timings on stdout.

    python -m bench.quix_app --bootstrap HOST:PORT --topic T --group G \
        --guarantee exactly-once --state-dir DIR --ends '{"0": 1234, ...}'
"""

from __future__ import annotations

import json
import resource
import time

STARTED = time.perf_counter()  # before the imports: process start up to here is interpreter start

import argparse  # noqa: E402
from collections.abc import Callable  # noqa: E402
from datetime import datetime, timedelta  # noqa: E402
from typing import Any  # noqa: E402

WINDOW = timedelta(days=30)
GRACE = timedelta(days=1)


def event_time_ms(value: Any, headers: Any, timestamp: int, kind: Any) -> int:
    """The event's `occurred_at` (RFC 3339) in epoch milliseconds: windows use event time."""
    return int(datetime.fromisoformat(value["occurred_at"]).timestamp() * 1000)


def purchase_facts(value: dict[str, Any]) -> dict[str, float]:
    """What the window aggregates of one event: 1 if a purchase, its amount, its time."""
    if value["type"] != "purchase":
        return {"purchase": 0, "spend": 0.0, "purchase_ms": 0}
    return {
        "purchase": 1,
        "spend": float(value["payload"]["amount"]),
        "purchase_ms": event_time_ms(value, None, 0, None),
    }


class Progress:
    """Counts processed records and stops the app once every partition reached its end."""

    def __init__(self, ends: dict[int, int]) -> None:
        self.stop: Callable[[], None] = lambda: None
        self.remaining = {partition for partition, end in ends.items() if end > 0}
        self.ends = ends
        self.processed = 0
        self.first: float | None = None
        self.last: float | None = None

    def mark_first(self, value: Any) -> None:
        """Note when the first record reached the processing code."""
        if self.first is None:
            self.first = time.perf_counter()

    def on_processed(self, topic: str, partition: int, offset: int) -> None:
        """Quix's per-record callback (after the record's processing): count, stop at the end."""
        self.processed += 1
        if offset + 1 >= self.ends.get(partition, 0) and partition in self.remaining:
            self.remaining.discard(partition)
            if not self.remaining:
                self.last = time.perf_counter()
                self.stop()


def main() -> None:
    """Run the app until the given end offsets; print timings and CPU as one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--guarantee", choices=("exactly-once", "at-least-once"), required=True)
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--ends", required=True, help="JSON object: partition -> end offset")
    args = parser.parse_args()
    # Imported here: the bench's own venv has no quixstreams (see bench/quix-requirements.txt),
    # yet its tests import this module's pure parts.
    from quixstreams import Application
    from quixstreams.dataframe.windows import Count, Max, Sum

    ends = {int(partition): int(end) for partition, end in json.loads(args.ends).items()}

    progress = Progress(ends)
    app = Application(
        broker_address=args.bootstrap,
        consumer_group=args.group,
        auto_offset_reset="earliest",
        processing_guarantee=args.guarantee,
        state_dir=args.state_dir,
        loglevel="WARNING",
        on_message_processed=progress.on_processed,
    )
    progress.stop = app.stop
    topic = app.topic(
        args.topic,
        value_deserializer="json",
        key_deserializer="str",
        timestamp_extractor=event_time_ms,
    )
    sdf = app.dataframe(topic)
    sdf = sdf.update(progress.mark_first)
    sdf = sdf.apply(purchase_facts)
    sdf = (
        sdf.tumbling_window(WINDOW, grace_ms=GRACE)
        .agg(
            events=Count(),
            purchases=Sum("purchase"),
            spend=Sum("spend"),
            last_purchase_ms=Max("purchase_ms"),
        )
        .current()
    )
    ready = time.perf_counter()
    if progress.remaining:
        app.run()
    done = time.perf_counter()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    first = progress.first if progress.first is not None else done
    last = progress.last if progress.last is not None else done
    print(
        json.dumps(
            {
                "processed": progress.processed,
                "import_s": ready - STARTED,
                "start_to_first_s": first - STARTED,
                "first_to_last_s": last - first,
                "last_to_done_s": done - last,
                "cpu_s": usage.ru_utime + usage.ru_stime,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
