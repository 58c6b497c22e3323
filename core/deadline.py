"""A hard time limit on pure-Python work in the calling thread, without a process.

``within(seconds, fn, *args)`` runs ``fn`` in the caller's thread and registers its limit with one
watchdog thread (alive while any work is registered, shared by every caller); once ``fn`` has used
``seconds`` of its thread's CPU time, the watchdog raises ``TimeUp`` inside it (CPython's
``PyThreadState_SetAsyncExc``), again every ``REPEAT`` seconds in case library code swallowed it. The app is one process shared by every
visitor (Streamlit Community Cloud), so a worker process per formula would cost a fork or an
interpreter start each time; this costs nothing while nobody is over time. Limits: the exception
arrives between Python bytecodes, so one long C call (a huge integer product) finishes first —
callers bound those sizes themselves; ``fn`` must tolerate being stopped anywhere (sympy does: its
caches store only finished results) and must not start threads (a thread being created carries
its creator's id for a moment, and could receive the interruption).
"""

import ctypes
import itertools
import threading
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
REPEAT = 0.05  # seconds between repeated interruptions after the deadline
POLL = 0.01  # seconds between the watchdog's looks at the clock
# The limit is CPU time of the working thread (so a loaded server does not refuse work that would
# fit, and a refusal can be remembered); wall-clock time is cut at this multiple of it.
WALL_FACTOR = 10


class TimeUp(BaseException):
    """Raised inside the work when its time is up; a BaseException so that ``except Exception``
    in library code does not swallow it."""


def _interrupt(thread_id: int, exception: type[BaseException] | None) -> None:
    # None clears an interruption that is still pending.
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), ctypes.py_object(exception) if exception else None
    )


def _cpu_seconds(clock: int | None) -> float:
    if clock is None:
        return 0.0
    try:
        return time.clock_gettime(clock)
    except OSError:  # the thread has just ended
        return 0.0


class _Work:
    """One registered work: its thread, its time limits, when it was last interrupted."""

    def __init__(self, seconds: float):
        self.thread_id = threading.get_ident()
        try:  # this thread's own CPU clock: a loaded server does not count against the work
            self.clock = time.pthread_getcpuclockid(self.thread_id)
        except (AttributeError, OSError):  # not on Linux: wall-clock time only
            self.clock = None
        self.cpu_end = _cpu_seconds(self.clock) + seconds
        self.wall_end = time.monotonic() + (WALL_FACTOR if self.clock is not None else 1) * seconds
        self.fired_at: float | None = None

    def due(self, now: float) -> bool:
        if self.fired_at is not None:
            return now - self.fired_at >= REPEAT
        over_cpu = self.clock is not None and _cpu_seconds(self.clock) >= self.cpu_end
        return over_cpu or now >= self.wall_end


class _Watchdog:
    """One thread, alive while some work is registered, interrupting any past its limit.

    The working threads touch only a plain Lock, whose ``with`` cannot be left half done by an
    interruption (a Condition's or an Event's Python-level methods could leave it held)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.works: dict[int, _Work] = {}
        self.tokens = itertools.count()
        self.running = False

    def start(self, seconds: float) -> int:
        with self.lock:
            token = next(self.tokens)
            self.works[token] = _Work(seconds)
            if not self.running:
                self.running = True
                threading.Thread(target=self.run, daemon=True, name="deadline").start()
            return token

    def stop(self, token: int) -> None:
        with self.lock:
            work = self.works.pop(token)
            if work.fired_at is not None:
                _interrupt(work.thread_id, None)  # not delivered yet: the work ended first

    def run(self) -> None:
        while True:
            time.sleep(POLL)
            with self.lock:
                if not self.works:
                    self.running = False
                    return
                now = time.monotonic()
                for work in self.works.values():
                    if work.due(now):
                        _interrupt(work.thread_id, TimeUp)
                        work.fired_at = now


_WATCHDOG = _Watchdog()


def within(seconds: float, fn: Callable[..., T], *args) -> T:
    """``fn(*args)``, or ``TimeUp`` raised once its thread has spent ``seconds`` of CPU time on it
    (or WALL_FACTOR times that in wall-clock time), to within POLL."""
    token = _WATCHDOG.start(seconds)
    try:
        return fn(*args)
    finally:
        while token in _WATCHDOG.works:
            try:
                _WATCHDOG.stop(token)
            except (TimeUp, KeyError):  # delivered while stopping: nothing fires once stopped
                pass
