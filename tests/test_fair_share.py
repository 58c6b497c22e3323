"""How a shared server divides itself among the visitors who train at the same time."""

import itertools
import threading

import pytest

from ui.fair_share import (
    BASE_BUDGET,
    BASE_EVERY,
    FORGET_AFTER,
    LONE_LATE_SCALE,
    TRAIN_SHARE,
    UPDATES_PER_S,
    TrainerRegistry,
    tick_plan,
)


def test_a_lone_trainer_keeps_the_full_rate():
    assert tick_plan(1) == (BASE_EVERY, BASE_BUDGET, 1, LONE_LATE_SCALE)
    assert tick_plan(0) == tick_plan(1)
    # A late tick of its own may catch up a little: at most a quarter second of training.
    assert BASE_BUDGET * LONE_LATE_SCALE <= 0.25


@pytest.mark.parametrize("trainers", [2, 3, 5, 10, 30, 60, 90])
def test_all_trainers_together_stay_within_the_shares(trainers):
    plan = tick_plan(trainers)
    assert plan.trainers == trainers
    assert plan.every >= BASE_EVERY and 0 < plan.budget <= BASE_BUDGET
    # Training time a second and screen updates a second, summed over every trainer.
    assert trainers * plan.budget / plan.every <= TRAIN_SHARE + 1e-12
    assert trainers / plan.every <= UPDATES_PER_S + 1e-12
    assert plan.late_scale == 1.0  # a late tick in a class trains no longer than planned


def test_more_trainers_never_update_more_often():
    plans = [tick_plan(n) for n in range(1, 100)]
    assert all(a.every <= b.every for a, b in itertools.pairwise(plans))


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_registry_counts_recent_trainers_and_forgets_silent_ones():
    clock = FakeClock()
    registry = TrainerRegistry(clock)
    assert registry.count() == 0
    assert registry.tick("a") == 1
    assert registry.tick("b") == 2
    assert registry.tick("a") == 2  # the same session twice is one trainer
    clock.now = FORGET_AFTER / 2
    assert registry.tick("c") == 3
    clock.now = FORGET_AFTER + 1  # a and b went quiet (tab closed, network gone)
    assert registry.count() == 1
    assert registry.tick("c") == 1


def test_a_session_about_to_train_is_counted_once():
    registry = TrainerRegistry(FakeClock())
    registry.tick("a")
    assert registry.count(including="a") == 1  # already ticking: not counted twice
    assert registry.count(including="b") == 2  # pressed Start, has not ticked yet


def test_pause_leaves_at_once():
    registry = TrainerRegistry(FakeClock())
    registry.tick("a")
    registry.tick("b")
    registry.leave("a")
    registry.leave("never-trained")
    assert registry.count() == 1


def test_registry_is_safe_across_script_threads():
    registry = TrainerRegistry()

    def train(name: str) -> None:
        for _ in range(200):
            registry.tick(name)

    threads = [threading.Thread(target=train, args=(f"s{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert registry.count() == 8
