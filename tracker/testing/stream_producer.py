"""A generated stream produced at a steady pace from a helper thread.

The caller's main thread meanwhile crashes, adds, pauses or stops workers and
brokers (a test broker must be restarted from the main thread: it dies with
the thread that started it).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence

from tracker.testing.traffic import Message


class StreamProducer(threading.Thread):
    """Produces ``messages`` at ``rate`` messages/s with an idempotent ``acks=all`` producer.

    Idempotence matters: a retried send after a broker loss must not write the
    message twice (the worker would count the copy as a duplicate event id).
    """

    def __init__(
        self, bootstrap: str, topic: str, messages: Sequence[Message], rate: float
    ) -> None:
        super().__init__(name="stream-producer", daemon=True)
        self.bootstrap = bootstrap
        self.topic = topic
        self.messages = messages
        self.rate = rate
        self.sent = 0
        self.error: BaseException | None = None
        self.began = 0.0
        self.elapsed = 0.0

    def run(self) -> None:
        from kafka.producer import KafkaProducer

        try:
            producer = KafkaProducer(
                bootstrap_servers=self.bootstrap.split(","),
                acks="all",
                enable_idempotence=True,
                linger_ms=20,
                request_timeout_ms=5_000,
                delivery_timeout_ms=120_000,
                retry_backoff_ms=200,
            )
            self.began = time.monotonic()
            futures = []
            for index, message in enumerate(self.messages):
                due = self.began + index / self.rate
                pause = due - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                futures.append(
                    producer.send(
                        self.topic,
                        key=message.key,
                        value=message.value,
                        timestamp_ms=message.timestamp_ms,
                    )
                )
                self.sent = index + 1
            producer.flush()
            for future in futures:
                future.get(timeout=60)  # raises if the broker never acknowledged it
            producer.close()
            self.elapsed = time.monotonic() - self.began
        except BaseException as exc:  # reported by finish()
            self.error = exc

    def wait_for(self, fraction: float, timeout: float = 300) -> None:
        """Block until ``fraction`` of the stream has been handed to the producer."""
        target = math.ceil(len(self.messages) * fraction)
        deadline = time.monotonic() + timeout
        while self.sent < target:
            if self.error is not None or not self.is_alive():
                break
            assert time.monotonic() < deadline, f"producer stuck at {self.sent}/{target}"
            time.sleep(0.05)

    def finish(self, timeout: float = 300) -> float:
        """Wait until every message is acknowledged; returns the production time."""
        self.join(timeout)
        assert not self.is_alive(), "the producer did not finish"
        if self.error is not None:
            raise AssertionError(f"producing the stream failed: {self.error!r}") from self.error
        return self.elapsed
