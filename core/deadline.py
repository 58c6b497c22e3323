"""A hard time limit on pure-Python work in the calling thread, without a process.

``within(seconds, fn, *args)`` runs ``fn`` in the caller's thread and registers its deadline with
one watchdog thread (started once, shared by every caller); if ``fn`` is still running at the
deadline, the watchdog raises ``TimeUp`` inside it (CPython's ``PyThreadState_SetAsyncExc``), again
every ``REPEAT`` seconds in case library code swallowed it. The app is one process shared by every
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


class TimeUp(BaseException):
    """Raised inside the work when its time is up; a BaseException so that ``except Exception``
    in library code does not swallow it."""


def _interrupt(thread_id: int, exception: type[BaseException] | None) -> None:
    # None clears an interruption that is still pending.
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), ctypes.py_object(exception) if exception else None
    )


class _Watchdog:
    """One thread, alive while some work is registered, interrupting any past its deadline.

    The working threads touch only a plain Lock, whose ``with`` cannot be left half done by an
    interruption (a Condition's or an Event's Python-level methods could leave it held)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.works: dict[int, list] = {}  # token -> [thread id, deadline, fired]
        self.tokens = itertools.count()
        self.running = False

    def start(self, seconds: float) -> int:
        with self.lock:
            token = next(self.tokens)
            self.works[token] = [threading.get_ident(), time.monotonic() + seconds, False]
            if not self.running:
                self.running = True
                threading.Thread(target=self.run, daemon=True, name="deadline").start()
            return token

    def stop(self, token: int) -> None:
        with self.lock:
            thread_id, _, fired = self.works.pop(token)
            if fired:
                _interrupt(thread_id, None)  # not delivered yet: the work ended first

    def run(self) -> None:
        while True:
            time.sleep(POLL)
            with self.lock:
                if not self.works:
                    self.running = False
                    return
                now = time.monotonic()
                for work in self.works.values():
                    if work[1] <= now:
                        _interrupt(work[0], TimeUp)
                        work[1], work[2] = now + REPEAT, True


_WATCHDOG = _Watchdog()


def within(seconds: float, fn: Callable[..., T], *args) -> T:
    """``fn(*args)``, or ``TimeUp`` raised once it has run ``seconds`` (to within POLL)."""
    token = _WATCHDOG.start(seconds)
    try:
        return fn(*args)
    finally:
        while token in _WATCHDOG.works:
            try:
                _WATCHDOG.stop(token)
            except (TimeUp, KeyError):  # delivered while stopping: nothing fires once stopped
                pass
