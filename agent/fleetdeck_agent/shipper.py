"""Ship a running event's log lines to the server: at once when the script is quiet, in batches when
it is chatty.

A line printed after a quiet spell goes out after a short linger (LINGER_SECONDS, which gathers the
rest of a burst), so people watching the deployment page see it within tens of milliseconds. A script
that prints steadily has its lines held a little longer the faster it prints, up to MAX_HOLD_SECONDS
from CHATTY_LINES_PER_SECOND on: chatty scripts send fewer requests than the fixed 200 ms batches of
earlier agents (at most one per MAX_HOLD_SECONDS, or one per MAX_BATCH lines), and a flood of
output goes in MAX_BATCH-line requests. Whatever is still queued when the event ends travels with
its completion. Heartbeats go out while nothing else is sent.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Callable, List, Optional

from fleetdeck_agent.client import ApiError, Backoff, Client, TransportError

log = logging.getLogger("fleetdeck_agent")

MAX_QUEUED_LINES = 50000
MAX_BATCH = 500  # lines per request (the server takes up to 1,000)
LINGER_SECONDS = 0.01
MAX_HOLD_SECONDS = 0.25
CHATTY_LINES_PER_SECOND = 50.0
RATE_WINDOW_SECONDS = 1.0
RATE_SAMPLE = 16  # lines whose arrival times estimate the rate


def hold_seconds(lines_per_second: float) -> float:
    """How long the oldest queued line may wait: a linger for a quiet script, growing with the cube of
    the rate to MAX_HOLD_SECONDS for a chatty one (20 lines a second wait ~16 ms, 35 wait ~86 ms).
    The most requests a script can cause is ~25 a second, at about 25 lines a second."""
    share = min(lines_per_second / CHATTY_LINES_PER_SECOND, 1.0)
    return max(LINGER_SECONDS, MAX_HOLD_SECONDS * share**3)


class LineRate:
    """Lines per second over the last few lines printed within RATE_WINDOW_SECONDS."""

    def __init__(self) -> None:
        self.arrivals: deque = deque(maxlen=RATE_SAMPLE)

    def add(self, count: int, now: float) -> None:
        for _ in range(min(count, RATE_SAMPLE)):
            self.arrivals.append(now)

    def per_second(self, now: float) -> float:
        while self.arrivals and now - self.arrivals[0] > RATE_WINDOW_SECONDS:
            self.arrivals.popleft()
        if len(self.arrivals) < 2:
            return 0.0
        span = self.arrivals[-1] - self.arrivals[0]
        return float("inf") if span <= 0 else (len(self.arrivals) - 1) / span


class LogShipper(threading.Thread):
    """Sends log batches (and heartbeats while nothing else is sent) from its own thread,
    so a slow server never blocks the pipe reader of a running script."""

    def __init__(
        self,
        client: Client,
        command_id: str,
        heartbeat_interval: float,
        backoff: Backoff,
        give_up: Callable[[], bool],
    ):
        super().__init__(name=f"log-shipper-{command_id}", daemon=True)
        self.client = client
        self.path = f"/agent/v1/commands/{command_id}/log/"
        self.heartbeat_interval = heartbeat_interval
        self.backoff = backoff
        self.give_up = give_up
        self.queue: deque = deque()
        self.cond = threading.Condition()
        self.rate = LineRate()
        self.seq = 0
        self.dropped = 0
        self.requests = 0
        self.closed = False
        self.first_unsent = 0.0

    def add(self, lines: List[dict]) -> None:
        with self.cond:
            now = time.monotonic()
            if not self.queue:
                self.first_unsent = now
            self.rate.add(len(lines), now)
            for line in lines:
                self.seq += 1
                self.queue.append({"seq": self.seq, **line})
            while len(self.queue) > MAX_QUEUED_LINES:
                self.queue.popleft()
                self.dropped += 1
            self.cond.notify()

    def _due(self) -> Optional[float]:
        """Seconds until the queue should be sent (0: now), or None when it is empty. Under the lock."""
        if not self.queue:
            return None
        if len(self.queue) >= MAX_BATCH:
            return 0.0
        now = time.monotonic()
        return max(self.first_unsent + hold_seconds(self.rate.per_second(now)) - now, 0.0)

    def run(self) -> None:
        last_contact = time.monotonic()
        try:
            while True:
                with self.cond:
                    if not self.queue and not self.closed:
                        self.cond.wait(timeout=0.2)
                    while not self.closed:
                        wait = self._due()
                        if wait is None or wait <= 0:
                            break
                        self.cond.wait(timeout=wait)
                    if self.closed:
                        return
                    batch = [self.queue[i] for i in range(min(MAX_BATCH, len(self.queue)))]
                if batch:
                    try:
                        self.requests += 1
                        self.client.post(self.path, {"lines": batch})
                    except TransportError as exc:
                        if self.give_up():
                            log.warning("Dropping %d unsent log lines: %s", len(self.queue), exc)
                            return
                        delay = self.backoff.next()
                        log.warning("Sending log lines failed (%s); retrying in %.1f s", exc, delay)
                        time.sleep(delay)
                        continue
                    except ApiError as exc:
                        log.warning("The server refused a log batch (%s); dropping it", exc)
                    self.backoff.reset()
                    last_contact = time.monotonic()
                    with self.cond:
                        for _ in batch:
                            if self.queue:
                                self.queue.popleft()
                        # Lines that came in while the request ran wait from now on, as one batch.
                        self.first_unsent = time.monotonic()
                elif time.monotonic() - last_contact >= self.heartbeat_interval:
                    last_contact = time.monotonic()
                    try:
                        self.client.post("/agent/v1/heartbeat/", {})
                    except (TransportError, ApiError) as exc:
                        log.warning("Heartbeat failed: %s", exc)
        finally:
            self.client.close()

    def close(self) -> List[dict]:
        """Stop shipping; return the lines not sent yet (they go with the completion)."""
        with self.cond:
            self.closed = True
            self.cond.notify()
        self.join()
        if self.dropped:
            log.warning("%d log lines were dropped while the server was unreachable", self.dropped)
        with self.cond:
            return list(self.queue)
