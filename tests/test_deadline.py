"""core.deadline: work past its time is stopped inside its own thread, work within it is untouched,
and no interruption is left behind to strike the caller later."""

import threading
import time

import pytest

from core.deadline import TimeUp, within


def spin(n: int) -> int:
    total = 0
    for i in range(n):
        total += i
    return total


def forever():
    while True:
        pass


def swallowing():
    # Library code with a broad ``except Exception`` must not outlive its deadline.
    while True:
        try:
            spin(10_000)
        except Exception:  # the point of the test
            pass


@pytest.mark.parametrize("work", [forever, swallowing])
def test_work_past_its_deadline_is_stopped(work):
    start = time.monotonic()
    with pytest.raises(TimeUp):
        within(0.1, work)
    assert time.monotonic() - start < 5  # liveness, not a benchmark: the deadline is 0.1 s


def test_work_within_its_deadline_returns_and_leaves_nothing_pending():
    assert within(5.0, spin, 1000) == 499_500
    time.sleep(0.1)
    assert spin(10**6) > 0  # no stray TimeUp arrives here


def test_many_threads_at_the_edge_of_their_deadlines_never_get_a_stray_interruption():
    strays = []

    def worker(seed):
        for k in range(40):
            try:
                within(0.01, spin, 20_000 * ((k + seed) % 5))
            except TimeUp:
                pass
            try:
                spin(50_000)  # after within returned or raised: must never be interrupted
            except TimeUp:
                strays.append(seed)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert strays == []


def test_the_limit_is_cpu_time_so_waiting_is_not_counted_up_to_the_wall_clock_cap():
    def mostly_waiting():
        for _ in range(20):  # 0.2 s of wall-clock time, next to no CPU time
            time.sleep(0.01)
        return "done"

    assert within(0.05, mostly_waiting) == "done"  # 0.05 CPU s; cut at 10 x 0.05 s of wall clock
    with pytest.raises(TimeUp):
        within(0.01, mostly_waiting)  # the wall-clock cap: 0.1 s
