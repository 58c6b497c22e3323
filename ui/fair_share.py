"""Share one server process among the visitors who train at the same time.

A whole class trains on one process with 2 cores, and Python runs one thread at a time. If every
training tab ticked at the full rate, the ticks alone would fill the process and every click,
page load and chart of everyone else would wait behind them. ``TrainerRegistry`` counts the
sessions that ticked recently; ``tick_plan`` turns that count into how often each of them updates
and how long it trains per update, so that all trainers together use at most ``TRAIN_SHARE`` of a
core for training and ``UPDATES_PER_S`` screen updates a second, whatever their number. One
trainer alone keeps the full rate. No streamlit here: the page keeps one registry per process.
"""

import threading
import time
from typing import NamedTuple

BASE_EVERY = 0.3  # seconds between live updates of a lone trainer
BASE_BUDGET = 0.1  # seconds of training per update (the issue allows 0.15; 0.1 keeps 2+ updates a second on a busy machine)
TRAIN_SHARE = 0.4  # share of one core that all trainers' training may take together
UPDATES_PER_S = 4.0  # live updates a second, all trainers together, once more than one trains
FORGET_AFTER = 10.0  # a session that has not ticked for this long no longer counts
# A lone trainer's late tick (its browser was busy drawing) may train up to this many budgets, so
# that "as fast as possible" keeps its share of the clock; a class's ticks come late when the
# server is busy, and a longer tick would only make it busier.
LONE_LATE_SCALE = 2.5


class TickPlan(NamedTuple):
    every: float  # seconds between this session's live updates
    budget: float  # seconds of training per update
    trainers: int  # sessions training now, this one included
    late_scale: float = 1.0  # budgets a late tick may train (core.session.paced_tick)


def tick_plan(trainers: int) -> TickPlan:
    """Update interval and training budget for each of ``trainers`` sessions training at once."""
    trainers = max(int(trainers), 1)
    if trainers == 1:
        return TickPlan(BASE_EVERY, BASE_BUDGET, 1, LONE_LATE_SCALE)
    every = max(BASE_EVERY, trainers / UPDATES_PER_S)
    budget = min(BASE_BUDGET, TRAIN_SHARE / trainers * every)
    return TickPlan(every, budget, trainers)


class TrainerRegistry:
    """Which sessions trained recently; thread-safe, shared by every script thread of a process."""

    def __init__(self, clock=time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._last_tick: dict[str, float] = {}

    def tick(self, session: str) -> int:
        """Record that ``session`` trains now; return how many sessions train (it included)."""
        now = self._clock()
        with self._lock:
            self._last_tick[session] = now
            for other, seen in list(self._last_tick.items()):
                if now - seen > FORGET_AFTER:
                    del self._last_tick[other]
            return len(self._last_tick)

    def leave(self, session: str) -> None:
        """``session`` stopped training (Pause, divergence): it no longer takes a share."""
        with self._lock:
            self._last_tick.pop(session, None)

    def count(self, including: str | None = None) -> int:
        """Sessions that trained within ``FORGET_AFTER`` seconds, ``including`` counted once."""
        now = self._clock()
        with self._lock:
            active = {name for name, seen in self._last_tick.items() if now - seen <= FORGET_AFTER}
        return len(active | ({including} if including is not None else set()))
