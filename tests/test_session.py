"""core.session: each transition of the MNIST training session on a small real-digit data set."""

import numpy as np
import pytest

import core.session
from core.activations import ACTIVATIONS
from core.datasets import to_float32
from core.model_io import LoadedModel
from core.network import mlp, predict_proba
from core.session import (
    BUILTIN,
    CLASS_EPOCH_SECONDS,
    DIGITS_8X8,
    MAX_CATCH_UP,
    MAX_RUNS,
    PACES,
    SLOW_STEPS_PER_S,
    Session,
    archive,
    checked_gradients,
    configure,
    data_source,
    epoch,
    load_weights,
    new_sample,
    paced_tick,
    pause,
    probabilities_on_test,
    race,
    receive_model,
    receive_upload,
    reset,
    restore_best,
    start,
    step,
    steps_per_epoch,
    steps_per_s,
    tick,
    used_data,
)
from core.training import TrainConfig, init_train_state, smooth_ema, train_for

CONFIG = TrainConfig(architecture=mlp((784, 16, 10)), batch_size=50, optimizer="adam", lr=3e-3)
ARCH = ("small", 600, CONFIG.architecture, CONFIG.initializer, 0)


def configured(small, arch=ARCH, config=CONFIG, label="run a") -> Session:
    return configure(Session("me"), small, config, arch, label)


def weights(s: Session) -> list[np.ndarray]:
    return [layer["W"] for layer in s.train.params if "W" in layer]


def test_configure_builds_a_paused_network_from_the_seed(small):
    s = configured(small)
    assert s.train.step == 0 and not s.running and s.label == "run a" and s.inputs == 784
    again = configured(small)
    assert all(np.array_equal(a, b) for a, b in zip(weights(s), weights(again), strict=True))
    other_seed = configured(small, arch=(*ARCH[:-1], 5))
    assert not np.array_equal(weights(s)[0], weights(other_seed)[0])


def test_configure_with_the_same_arch_keeps_the_run_and_takes_the_new_label(small):
    s = step(configured(small), small, CONFIG)
    same = configure(s, small, CONFIG._replace(lr=0.01), ARCH, "run a, lr 0.01")
    assert same.train is s.train and same.label == "run a, lr 0.01" and same.runs == ()


def test_a_settings_change_makes_a_new_paused_run_and_archives_the_old_one(small):
    s = start(step(configured(small), small, CONFIG))
    wider = CONFIG._replace(architecture=mlp((784, 20, 10)))
    new = configure(s, small, wider, (*ARCH[:2], wider.architecture, *ARCH[3:]), "run b")
    assert new.train.step == 0 and not new.running and new.signals == () and new.last is None
    assert new.train.params[0]["W"].shape == (784, 20)
    assert [r.label for r in new.runs] == ["run a"]


def test_step_advances_the_count_and_changes_the_weights(small):
    s = configured(small)
    after = step(s, small, CONFIG)
    assert after.train.step == 1 and s.train.step == 0  # the old session is untouched
    assert not np.array_equal(weights(after)[0], weights(s)[0])
    assert after.last.step.tolist() == [0] and len(after.signals) == 1
    assert not after.running


def test_step_and_epoch_pause_a_running_session(small):
    running = start(configured(small))
    assert running.running
    assert not step(running, small, CONFIG).running
    done = epoch(running, small, CONFIG, budget=10.0)
    assert not done.running and done.train.epoch == 1 and done.train.step == 12  # 600 / 50


def test_start_and_pause(small):
    s = configured(small)
    assert start(s).running and not pause(start(s)).running
    assert start(Session("me")) == Session("me")  # nothing to train yet


def test_tick_trains_while_running_and_a_paused_session_does_not_tick_itself(small):
    s = tick(start(configured(small)), small, CONFIG, max_steps=3)
    assert s.running and s.train.step == 3
    paused = pause(s)
    assert not paused.running and paused.train is s.train  # pause alone trains nothing


def test_divergence_stops_the_run_and_start_is_refused(small):
    wild = CONFIG._replace(optimizer="sgd", lr=1e20)  # overflows float32 within two steps
    s = tick(start(configured(small, config=wild)), small, wild, max_steps=20)
    assert s.train.diverged_at is not None and not s.running
    assert not start(s).running
    assert tick(start(s), small, wild, max_steps=1).train.step == s.train.step


def test_reset_returns_to_step_0_with_the_same_settings(small):
    s = step(step(configured(small), small, CONFIG), small, CONFIG)
    fresh = reset(s, small, CONFIG)
    assert fresh.train.step == 0 and fresh.arch == s.arch and fresh.label == s.label
    assert all(
        np.array_equal(a, b)
        for a, b in zip(weights(fresh), weights(configured(small)), strict=True)
    )
    assert [r.label for r in fresh.runs] == ["run a"]  # the trained run is kept for comparison


def test_archive_keeps_a_finished_runs_curve_once_per_label_and_at_most_max_runs(small):
    s = configured(small)
    assert archive(s) is s  # nothing trained: nothing to keep
    s = epoch(s, small, CONFIG, budget=10.0)
    kept = archive(s)
    (run,) = kept.runs
    assert run.label == "run a" and run.step.tolist() == list(range(12))
    assert len(run.loss) == 12 and np.all(np.isfinite(run.loss))
    assert len(archive(kept).runs) == 1  # the same label replaces its older curve
    for i in range(MAX_RUNS + 2):
        kept = archive(kept._replace(label=f"run {i}"))
    assert len(kept.runs) == MAX_RUNS and kept.runs[-1].label == f"run {MAX_RUNS + 1}"


def model_of(small, config=CONFIG, seed=7, **changes) -> LoadedModel:
    state = init_train_state(np.random.default_rng(seed), small, config)
    model = LoadedModel(state.params, state.bn_state, config.architecture, "relu")
    return model._replace(**changes)


def test_loading_weights_replaces_the_params_and_keeps_the_settings(small):
    s = step(configured(small), small, CONFIG)
    model = model_of(small)
    loaded = load_weights(s, small, CONFIG, model, "mine.npz")
    assert loaded.train.params is model.params and loaded.train.step == 0
    assert loaded.arch == s.arch and loaded.label == s.label
    assert loaded.loaded_note == ("mine.npz", "784–16–10")
    assert step(loaded, small, CONFIG).loaded_note == loaded.loaded_note  # trained on from there
    assert reset(loaded, small, CONFIG).loaded_note is None  # a new network is not the file


def test_a_received_model_is_loaded_by_the_next_configure_if_the_architecture_matches(small):
    s = configured(small)
    model = model_of(small)
    waiting, settings = receive_model(s, model, "mine.npz")
    assert settings == {"family": "mlp", "hidden": "16", "activation": "relu", "batch_norm": False}
    loaded = configure(waiting, small, CONFIG, ARCH, "run a")
    assert loaded.train.params is model.params and loaded.pending is None
    # The hidden-layer box edited in the same moment: the file is refused, the network kept.
    other = configure(waiting, small, CONFIG._replace(architecture=mlp((784, 8, 10))), ARCH, "x")
    assert other.model_error == ("architecture", "mine.npz") and other.loaded_note is None


def test_a_received_model_asks_for_the_data_it_reads_and_bad_files_are_reported(small):
    s = configured(small)
    digits = model_of(small, architecture=mlp((64, 10)))
    assert receive_model(s, digits, "d.npz")[1]["data"] == DIGITS_8X8
    assert receive_model(s._replace(inputs=64), model_of(small), "m.npz")[1]["data"] == BUILTIN
    bad, settings = receive_model(s, None, "x.npz", "not_npz")
    assert settings == {} and bad.model_error == ("not_npz", "x.npz") and bad.pending is None
    odd = model_of(small, activation_kwargs=(("negative_slope", 0.2),))
    assert receive_model(s, odd, "o.npz")[0].model_error == ("activation_kwargs", "o.npz")


def test_uploads_are_read_once_and_a_bad_one_keeps_the_last_good_data(small):
    s = Session("me")
    assert data_source(s, "upload", "upload") == (BUILTIN, "no_upload")
    s = used_data(s, DIGITS_8X8)
    assert data_source(s, "upload", "upload") == (DIGITS_8X8, "no_upload")
    good = receive_upload(s, ("f1",), "a.npz", small)
    assert good.upload.dataset is small and data_source(good, "upload", "upload") == (
        "upload",
        "chosen",
    )
    assert receive_upload(good, ("f1",), "a.npz", None, "empty") is good  # read once
    bad = receive_upload(good, ("f2",), "b.npz", None, "empty")
    assert bad.upload_error == ("empty", "b.npz") and bad.upload is good.upload
    removed = receive_upload(bad, (), "", None)
    assert removed.upload_error is None and removed.upload is good.upload


def test_new_sample_draws_another_grid():
    assert new_sample(new_sample(Session("me"))).sample_seed == 2


def check(s: Session, *args):
    return checked_gradients(s, CONFIG.architecture, *args)


def test_the_gradient_check_is_kept_while_training_and_redone_once_paused(small):
    x, y = to_float32(small.val.x[:16]), small.val.y[:16]
    relu = ACTIVATIONS["relu"]()
    s, checks, at = check(configured(small), ("relu",), x, y, relu)
    assert max(c.rel for c in checks) < 1e-4 and at == 0
    assert check(s, ("relu",), x, y, relu)[0] is s  # same params: not redone
    running = tick(start(s), small, CONFIG, max_steps=2)
    assert check(running, ("relu",), x, y, relu)[2] == 0  # kept while training
    paused = pause(running)
    assert check(paused, ("relu",), x, y, relu)[2] == 2  # redone once paused
    assert check(running, ("tanh",), x, y, relu)[2] == 2  # another key: redone


def test_test_predictions_are_kept_for_the_same_params_and_key_only(small):
    x, key = small.test.x, ("small", len(small.test.y))
    s, probs = probabilities_on_test(configured(small), CONFIG.architecture, key, x, "relu")
    expected = predict_proba(
        CONFIG.architecture, s.train.params, x, activation=ACTIVATIONS["relu"]()
    )
    np.testing.assert_array_equal(probs, expected)
    again, same = probabilities_on_test(s, CONFIG.architecture, key, x, "relu")
    assert again is s and same is probs  # a click elsewhere on the page: not recomputed
    trained = step(s, small, CONFIG)
    after_step = probabilities_on_test(trained, CONFIG.architecture, key, x, "relu")[1]
    assert not np.array_equal(after_step, probs)  # new params: new predictions
    fewer = probabilities_on_test(s, CONFIG.architecture, (*key[:1], 10), x[:10], "relu")[1]
    assert fewer.shape == (10, 10)  # another key (fewer test images): recomputed
    assert (
        probabilities_on_test(reset(s, small, CONFIG), CONFIG.architecture, key, x, "relu")[1]
        is not probs
    )


def test_restore_best_brings_back_the_weights_of_the_lowest_validation_loss(small):
    s = configured(small)
    assert restore_best(s) is s  # no epoch finished: nothing to restore
    one = epoch(s, small, CONFIG, budget=10.0)
    two = epoch(one, small, CONFIG, budget=10.0)
    # As if epoch 2 had not improved on epoch 1: the best is epoch 1's.
    best = one.train
    two = two._replace(
        train=two.train._replace(
            best_epoch=1, best_params=best.best_params, best_bn_state=best.best_bn_state
        )
    )
    restored = restore_best(two)
    assert restored.train.params is best.best_params
    assert all(np.array_equal(a, b) for a, b in zip(weights(restored), weights(one), strict=True))
    assert restored.train.history is two.train.history and restored.train.step == two.train.step
    trained_on = tick(start(restored), small, CONFIG, max_steps=2)
    assert trained_on.train.step == two.train.step + 2
    # Training on from them writes new params and leaves the recorded best as it was.
    assert all(np.array_equal(a, b) for a, b in zip(weights(restored), weights(one), strict=True))
    assert not np.array_equal(weights(trained_on)[0], weights(one)[0])


def test_one_epoch_trains_its_budget_now_and_the_rest_in_later_ticks(small):
    # Issue #22 item 10: 6 x 1024 units with batch size 1 held the session 11 s per click. The
    # click now trains one chunk (here the minimum: one step) and the session runs to the epoch's
    # end over the live view's ticks, then pauses by itself.
    s = epoch(configured(small), small, CONFIG, budget=0.0)
    assert s.train.step == 1 and s.running and s.to_epoch_end
    steps = []
    for _ in range(10):  # bounded: a session that never stops fails, not hangs
        s = tick(s, small, CONFIG, max_steps=5)
        steps.append(s.train.step)
        if not s.running:
            break
    assert steps == [6, 11, 12] and s.train.epoch == 1  # exactly one epoch: 600 / 50 steps
    assert not s.to_epoch_end
    assert tick(start(s), small, CONFIG, max_steps=13).train.epoch == 2  # Start runs on


def test_start_or_pause_during_one_epoch_end_its_stop_at_the_epoch(small):
    s = epoch(configured(small), small, CONFIG, budget=0.0)
    assert not pause(s).running and not pause(s).to_epoch_end
    assert start(s).running and not start(s).to_epoch_end


def test_race_keeps_one_curve_per_contender_each_trained_from_the_seed(small):
    s = step(configured(small), small, CONFIG)
    contenders = (
        ("muon", CONFIG._replace(optimizer="muon", lr=0.03)),
        ("adam", CONFIG._replace(optimizer="adam", lr=1e-3)),
    )
    raced = race(s, small, contenders, 7, seed=3)
    assert [r.label for r in raced.runs] == ["muon", "adam"]
    assert raced.train is s.train  # the current run is left alone
    for run, (_, config) in zip(raced.runs, contenders, strict=True):
        alone = init_train_state(np.random.default_rng(3), small, config)
        alone, _ = train_for(alone, small, config, max_steps=7)
        np.testing.assert_array_equal(run.step, np.arange(7))
        np.testing.assert_array_equal(run.loss, smooth_ema(alone.history.loss))
    # Racing again replaces the curves of the same labels instead of adding more.
    assert [r.label for r in race(raced, small, contenders, 3, seed=3).runs] == ["muon", "adam"]


# ---------------------------------------------------------------- pace and the end of a run


def test_steps_a_second_at_each_pace():
    # The page's default: 7,000 images in batches of 128 are 55 steps an epoch, over 15 s.
    assert steps_per_s("class", 55) == pytest.approx(55 / 15)
    assert steps_per_s("slow", 55) == SLOW_STEPS_PER_S
    assert steps_per_s("slow", 10) == pytest.approx(10 / CLASS_EPOCH_SECONDS)  # never above class
    assert steps_per_s("class", 469) == pytest.approx(469 / 15)  # full MNIST: same epoch time
    assert steps_per_s("fast", 55) is None
    with pytest.raises(ValueError, match="pace="):
        steps_per_s("warp", 55)


def paced_run(small, pace: str, ticks: list[float], every: float = 0.3) -> list[int]:
    """The step count after a paced tick at each clock time in ``ticks``."""
    s, counts = start(configured(small)), []
    for now in ticks:
        s = paced_tick(s, small, CONFIG, pace=pace, now=now, budget=10.0, every=every)
        counts.append(s.train.step)
    return counts


def test_class_pace_spreads_an_epoch_over_fifteen_seconds_whatever_the_tick_rate(small):
    assert steps_per_epoch(small, CONFIG) == 12  # 600 / 50: 0.8 steps a second at class pace
    # Ticks every 0.3 s for 30 s: the first counts one catch-up second, then 0.8 steps a second.
    ticks = list(np.arange(0.0, 30.0, 0.3))
    counts = paced_run(small, "class", ticks)
    expected = np.floor(0.8 * (np.array(ticks) + MAX_CATCH_UP) + 1e-9)
    assert counts == expected.astype(int).tolist()
    # The first epoch's 12 steps are done 15 s after Start (the first tick counts as 1 s late).
    assert ticks[counts.index(12)] + MAX_CATCH_UP == pytest.approx(CLASS_EPOCH_SECONDS, abs=0.3)
    # Ticks at other intervals earn the same steps for the same time: fractions carry over.
    assert paced_run(small, "class", [0.0, 1.0, 10.0 / 3, 29.7])[-1] < counts[-1]  # late ticks lose
    assert paced_run(small, "class", list(np.arange(0.0, 30.0, 0.5)))[-1] == counts[-1]
    # A class on one server: ticks 5 s apart (ui.fair_share) keep the pace too.
    assert paced_run(small, "class", list(np.arange(0.0, 30.0, 5.0)), every=5.0)[-1] == int(
        0.8 * (25.0 + MAX_CATCH_UP)
    )


def test_slow_motion_and_as_fast_as_possible(small):
    # Slow motion at 12 steps an epoch is class pace too (0.8 < 2 steps a second).
    assert paced_run(small, "slow", [0.0, 1.0, 2.0]) == paced_run(small, "class", [0.0, 1.0, 2.0])
    fast = paced_run(small, "fast", [0.0])
    assert fast[0] >= 12  # a whole 10 s budget, at least this small epoch


def test_as_fast_as_possible_keeps_its_share_of_the_clock_when_ticks_come_late(small, monkeypatch):
    budgets = []

    def spy(s, data, config, **limits):
        budgets.append(limits["time_budget"])
        return s

    monkeypatch.setattr(core.session, "tick", spy)
    s = start(configured(small))
    for now in (0.0, 0.3, 0.6, 1.2, 100.0):  # on time, on time, twice late, after a long pause
        s = paced_tick(
            s, small, CONFIG, pace="fast", now=now, budget=0.1, every=0.3, late_scale=2.5
        )
    assert budgets == pytest.approx([0.1, 0.1, 0.1, 0.2, 0.25])
    # A class's plan (late_scale 1): a late tick trains its budget, no more.
    paced_tick(s, small, CONFIG, pace="fast", now=200.0, budget=0.1, every=0.3)
    assert budgets[-1] == 0.1


def test_a_late_tick_does_not_make_up_for_a_pause(small):
    counts = paced_run(small, "class", [0.0, 0.5, 600.0])
    assert counts[0] == 0 and counts[1] == 1  # 0.8 after the first tick, 1.2 after the second
    # Ten minutes later: one tick interval and one second.
    assert counts[2] - counts[1] == int(0.2 + 0.8 * (0.3 + MAX_CATCH_UP))


@pytest.mark.parametrize("pace", PACES)
def test_a_stopped_run_does_not_tick_at_any_pace(small, pace):
    wild = CONFIG._replace(optimizer="sgd", lr=1e20)
    s = tick(start(configured(small, config=wild)), small, wild, max_steps=20)
    after = paced_tick(start(s), small, wild, pace=pace, now=5.0, budget=1.0)
    assert after.train.step == s.train.step and not after.running


def test_the_epoch_limit_ends_a_run_and_a_higher_limit_lets_it_go_on(small):
    two = CONFIG._replace(epochs=2)
    s = start(configured(small))
    for _ in range(4):
        s = tick(s, small, two, time_budget=10.0)
    assert s.train.epoch == 2 and s.train.stopped == "epochs" and not s.running
    assert not tick(start(s), small, two, max_steps=1).train.step > s.train.step  # still the limit
    three = two._replace(epochs=3)
    on = tick(start(s), small, three, max_steps=1)
    assert on.running and on.train.step == s.train.step + 1
    assert step(s, small, three).train.step == s.train.step + 1  # One step goes on too


def test_early_stopping_ends_a_run_and_start_gives_it_a_fresh_patience(small):
    # lr 0 never improves the validation loss after the first epoch: patience 2 stops at epoch 3.
    still = CONFIG._replace(lr=0.0, patience=2)
    s = start(configured(small))
    for _ in range(5):
        s = tick(s, small, still, time_budget=10.0)
    assert s.train.stopped == "early_stopping" and s.train.epoch == 3 and not s.running
    again = start(s)
    assert again.running and again.train.bad_epochs == 0 and again.train.stopped is None


def test_the_epoch_buttons_run_is_not_paced(small):
    # The rest of an epoch the button asked for goes as fast as the click: class pace would take
    # 15 s for this small epoch, one paced tick finishes it.
    s = epoch(step(configured(small), small, CONFIG), small, CONFIG, budget=0.0)
    assert s.to_epoch_end and s.train.epoch == 0
    done = paced_tick(s, small, CONFIG, pace="class", now=0.0, budget=10.0)
    assert done.train.epoch == 1 and done.train.step == 12 and not done.running


def test_kept_and_raced_runs_carry_their_validation_points(small):
    # "Compare runs" draws each run's validation loss beside its training loss: the gap between
    # them is what the dropout experiment is about.
    s = epoch(configured(small), small, CONFIG, budget=10.0)
    (kept,) = archive(s).runs
    assert kept.epochs == s.train.history.epochs and len(kept.epochs) == 1
    raced = race(s, small, (("adam", CONFIG),), 12 * 2, seed=3)
    (run,) = raced.runs
    assert [e.step for e in run.epochs] == [12, 24] and all(e.val_loss > 0 for e in run.epochs)
