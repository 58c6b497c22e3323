"""Trainer: learns on real digits, deterministic, resumable, reports divergence and early stops."""

import math

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import core.training as training
from core.activations import ACTIVATIONS
from core.datasets import builtin_mnist, to_float32
from core.mlp import accuracy
from core.network import cnn, loss_and_grads, mlp
from core.optimizers import (
    OPTIMIZERS,
    AdamState,
    MuonState,
    SGDState,
    init_layers,
    make,
    update_layers,
)
from core.schedules import plateau, reduce_lr_on_plateau, step_lr
from core.training import (
    TrainConfig,
    evaluate,
    init_train_state,
    loss_plateau,
    minibatches,
    smooth_ema,
    train,
    train_for,
)

TINY = TrainConfig(architecture=mlp((784, 16, 10)), batch_size=50, optimizer="adam", lr=3e-3)


def arrays_of(obj):
    """Every ndarray reachable through lists/tuples/dicts, in a fixed order."""
    if isinstance(obj, np.ndarray):
        return [obj]
    if isinstance(obj, dict):
        return [a for k in sorted(obj) for a in arrays_of(obj[k])]
    if isinstance(obj, list | tuple):
        return [a for x in obj for a in arrays_of(x)]
    return []


def same_run(a, b) -> bool:
    xs, ys = (
        arrays_of([a.params, a.opt_states, a.bn_state]),
        arrays_of([b.params, b.opt_states, b.bn_state]),
    )
    return len(xs) == len(ys) and all(np.array_equal(x, y) for x, y in zip(xs, ys, strict=True))


def test_minibatches_cover_each_epoch_once(rng):
    gen = minibatches(rng, 10, 4)
    first = [next(gen) for _ in range(3)]
    second = [next(gen) for _ in range(3)]
    assert [len(b) for b in first] == [4, 4, 2]  # last batch smaller, none dropped
    for epoch in (first, second):
        assert sorted(np.concatenate(epoch).tolist()) == list(range(10))
    assert not np.array_equal(np.concatenate(first), np.concatenate(second))  # reshuffled
    with pytest.raises(ValueError, match="batch_size"):
        next(minibatches(rng, 10, 0))


def test_loss_falls_and_learns_real_digits(small):
    losses, val_acc = [], []
    for _, m in train(np.random.default_rng(0), small, TINY, epochs=4):
        losses.append(m.epochs[0].train_loss)
        val_acc.append(m.epochs[0].val_accuracy)
    state = _
    assert state.epoch == 4 and state.stopped == "epochs"
    assert state.history.loss[0] > 1.5  # ~ln(10) at the start
    assert losses == sorted(losses, reverse=True) and losses[-1] < 0.6 * losses[0]
    assert val_acc[-1] > 0.75  # chance is 0.1
    # The reported validation accuracy agrees with core.mlp.accuracy on the same split (the same
    # MLP written as one loop, whose params are the network's without its layers of none).
    act = ACTIVATIONS["relu"]()
    direct = accuracy(
        [p for p in state.params if p], to_float32(small.val.x), small.val.y, activation=act
    )
    assert val_acc[-1] == pytest.approx(direct)


def test_deterministic_for_a_seed_and_any_chunking(small):
    cfg = TINY._replace(dropout=0.2)  # dropout draws from the carried rng too
    a = init_train_state(np.random.default_rng(7), small, cfg)
    b = init_train_state(np.random.default_rng(7), small, cfg)
    a, _ = train_for(a, small, cfg, max_steps=30)
    for n in (5, 11, 14):  # 30 steps in three uneven chunks, across an epoch boundary (12 steps)
        b, _ = train_for(b, small, cfg, max_steps=n)
    assert a.step == b.step == 30 and a.epoch == b.epoch == 2
    assert same_run(a, b)
    np.testing.assert_array_equal(a.history.loss, b.history.loss)
    c = init_train_state(np.random.default_rng(8), small, cfg)
    c, _ = train_for(c, small, cfg, max_steps=30)
    assert not same_run(a, c)


def test_input_state_not_mutated(small):
    cfg = TINY._replace(architecture=mlp((784, 16, 12, 10), batch_norm=True), dropout=0.1)
    state = init_train_state(np.random.default_rng(1), small, cfg)
    state, _ = train_for(state, small, cfg, max_steps=3)
    before = [a.copy() for a in arrays_of(list(state))]
    fields = (state.step, state.epoch, state.pos, state.rng_state, state.epoch_sums)
    new, _ = train_for(state, small, cfg, max_steps=20)
    after = arrays_of(list(state))
    assert all(np.array_equal(x, y) for x, y in zip(before, after, strict=True))
    assert (state.step, state.epoch, state.pos, state.rng_state, state.epoch_sums) == fields
    assert new.step == 23 and not same_run(new, state)
    # Abandoning the tick and re-running it from the kept state gives the same result.
    again, _ = train_for(state, small, cfg, max_steps=20)
    assert same_run(again, new)


@pytest.mark.parametrize("name", ["sgd", "nesterov", "adam", "adamw", "rmsprop"])
def test_every_state_handed_out_stays_bitwise_unchanged(small, name):
    """The trainer updates its own copies in place; a state it was given or returned keeps every
    bit: params, optimizer buffers (a fresh state's share one zeros array), best params."""
    cfg = TINY._replace(optimizer=name, lr=0.05 if name in ("sgd", "nesterov") else 3e-3)
    cfg = cfg._replace(patience=5, hyperparameters=(("weight_decay", 1e-3),))
    states = [init_train_state(np.random.default_rng(2), small, cfg)]
    snapshots = [[a.copy() for a in arrays_of(list(states[0]))]]
    for n in (1, 13, 12, 3):  # 29 steps; epochs end at 12 and 24 and record best params
        states.append(train_for(states[-1], small, cfg, max_steps=n)[0])
        snapshots.append([a.copy() for a in arrays_of(list(states[-1]))])
    assert states[-1].step == 29 and states[-1].best_epoch == 2
    for state, snapshot in zip(states, snapshots, strict=True):
        arrays = arrays_of(list(state))
        assert len(arrays) == len(snapshot)
        for a, b in zip(arrays, snapshot, strict=True):
            np.testing.assert_array_equal(a, b)
    assert all(np.all(a == 0) for a in arrays_of(states[0].opt_states))


@pytest.mark.parametrize(
    ("name", "lr"),
    [
        ("sgd", 0.1),
        ("momentum", 0.05),
        ("nesterov", 0.05),
        ("adam", 3e-3),
        ("adamw", 3e-3),
        ("rmsprop", 1e-3),
    ],
)
def test_steps_equal_a_plain_update_layers_loop(small, name, lr):
    """The trainer's in-place step equals forward/backward and the pure ``update_layers``."""
    cfg = TINY._replace(architecture=mlp((784, 16, 12, 10)), optimizer=name, lr=lr)
    state = init_train_state(np.random.default_rng(5), small, cfg)
    new, _ = train_for(state, small, cfg, max_steps=6)
    opt = make(name, lr=lr)
    params, opt_states = state.params, init_layers(opt, state.params)
    for k in range(6):
        rows = state.order[k * cfg.batch_size : (k + 1) * cfg.batch_size]
        x, y = to_float32(small.train.x[rows]), small.train.y[rows]
        _, grads, _ = loss_and_grads(
            cfg.architecture, params, x, y, activation=ACTIVATIONS["relu"]()
        )
        params, opt_states = update_layers(opt, params, grads, opt_states)
    for ours, plain in zip(arrays_of(new.params), arrays_of(params), strict=True):
        assert ours.dtype == plain.dtype == np.float32
        np.testing.assert_allclose(ours, plain, rtol=1e-6, atol=1e-8)
    for ours, plain in zip(arrays_of(new.opt_states), arrays_of(opt_states), strict=True):
        np.testing.assert_allclose(ours, plain, rtol=1e-6, atol=1e-12)


def test_time_budget_stops(small, monkeypatch):
    # A fake clock that advances 10 ms per reading makes the budget logic deterministic.
    clock = iter(np.arange(0, 1e4, 0.01))
    monkeypatch.setattr(training.time, "perf_counter", lambda: float(next(clock)))
    state = init_train_state(np.random.default_rng(0), small, TINY)
    new, m = train_for(state, small, TINY, time_budget=0.15)
    assert 1 <= len(m.step) < 12  # stopped by the budget, well before the end of the epoch
    assert new.step == len(m.step) and new.epoch == 0 and new.stopped is None
    # A zero budget still makes progress: exactly one step.
    _, m0 = train_for(new, small, TINY, time_budget=0.0)
    assert len(m0.step) == 1


@pytest.mark.parametrize("name", ["sgd", "adam"])
def test_non_finite_loss_is_reported(small, name):
    # 1e20: relu nets otherwise just die (finite loss); this overflows float32 within two steps.
    cfg = TINY._replace(optimizer=name, lr=1e20)
    state = init_train_state(np.random.default_rng(0), small, cfg)
    new, m = train_for(state, small, cfg, max_steps=200)
    assert new.stopped == "diverged" and m.stopped == "diverged"
    assert new.diverged_at is not None and 1 <= new.diverged_at == new.step < 200
    assert np.all(np.isfinite(new.history.loss))  # the non-finite loss is reported, not recorded
    # Training does not continue through the divergence.
    later, m2 = train_for(new, small, cfg, max_steps=5)
    assert len(m2.step) == 0 and later.step == new.step


def test_early_stopping(small):
    # min_delta so large that no epoch after the first can count as an improvement.
    cfg = TINY._replace(patience=2, min_delta=1e9)
    runs = list(train(np.random.default_rng(0), small, cfg, epochs=10))
    state = runs[-1][0]
    assert state.stopped == "early_stopping" and state.epoch == 3
    assert state.best_epoch == 1 and state.bad_epochs == 2
    assert state.best_val_loss == state.history.epochs[0].val_loss


def test_early_stopping_keeps_best_params(small):
    cfg = TINY._replace(patience=50)
    state = list(train(np.random.default_rng(0), small, cfg, epochs=3))[-1][0]
    vals = [e.val_loss for e in state.history.epochs]
    assert state.best_epoch == 1 + int(np.argmin(vals))
    act = ACTIVATIONS["relu"]()
    loss, _ = evaluate(cfg.architecture, state.best_params, state.best_bn_state, small.val, act)
    assert loss == pytest.approx(min(vals))


def test_lr_change_and_schedule_between_ticks(small):
    state = init_train_state(np.random.default_rng(0), small, TINY)
    state, m1 = train_for(state, small, TINY, max_steps=3)
    faster = TINY._replace(lr=0.01)
    state, m2 = train_for(state, small, faster, max_steps=3)
    assert set(m1.lr) == {3e-3} and set(m2.lr) == {0.01}
    assert isinstance(state.opt_states[0]["W"], AdamState)
    assert state.opt_states[0]["W"].step == 6  # Adam's moments carried on, not reset
    # A schedule counted in epochs: step_lr halves the lr after every epoch (12 steps here).
    sched = TINY._replace(lr=step_lr(0.01, step_size=1, gamma=0.5))
    s = init_train_state(np.random.default_rng(0), small, sched)
    s, m = train_for(s, small, sched, max_steps=24)
    np.testing.assert_allclose(m.lr, [0.01] * 12 + [0.005] * 12)
    per_step = sched._replace(schedule_unit="step")
    s = init_train_state(np.random.default_rng(0), small, per_step)
    s, m = train_for(s, small, per_step, max_steps=3)
    np.testing.assert_allclose(m.lr, [0.01, 0.005, 0.0025])


def test_switching_optimizer_starts_fresh_states(small):
    state = init_train_state(np.random.default_rng(0), small, TINY)
    state, _ = train_for(state, small, TINY, max_steps=2)
    sgd = TINY._replace(optimizer="momentum", lr=0.05)
    state, _ = train_for(state, small, sgd, max_steps=2)
    assert state.optimizer == "momentum" and isinstance(state.opt_states[0]["W"], SGDState)
    assert state.opt_states[0]["W"].step == 2
    # Turning on amsgrad needs a buffer the old Adam state lacks: a fresh state, not a crash.
    ams = TINY._replace(hyperparameters=(("amsgrad", True),))
    state, _ = train_for(state, small, TINY, max_steps=1)
    state, _ = train_for(state, small, ams, max_steps=1)
    assert state.opt_states[0]["W"].max_exp_avg_sq is not None


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_every_optimizer_reduces_the_loss(small, name):
    lr = {
        "sgd": 0.1,
        "momentum": 0.05,
        "nesterov": 0.05,
        "adadelta": 1.0,
        "adagrad": 0.05,
        "radam": 0.03,
        "asgd": 0.1,
        "adafactor": 0.1,  # a relative step: each array moves by ~lr times its own RMS
        "muon": 0.02,  # orthogonalised steps of spectral norm ~lr per matrix (Jordan et al.)
    }
    cfg = TINY._replace(optimizer=name, lr=lr.get(name, 3e-3))
    state = init_train_state(np.random.default_rng(0), small, cfg)
    state, m = train_for(state, small, cfg, max_steps=24)
    assert state.stopped is None
    assert np.mean(m.loss[-6:]) < 0.8 * np.mean(m.loss[:3])


def test_batch_norm_updates_running_stats(small):
    cfg = TINY._replace(
        architecture=mlp((784, 16, 10), batch_norm=True), batch_size=599
    )  # leaves a 1-row batch: skipped
    state = init_train_state(np.random.default_rng(0), small, cfg)
    state, m = train_for(state, small, cfg)  # no limit: runs to the epoch's end
    assert state.epoch == 1 and state.step == 1 and len(m.epochs) == 1
    assert not np.allclose(state.bn_state[1].mean, 0)  # layer 1: the batch norm
    assert math.isfinite(m.epochs[0].val_loss)


def test_epoch_limit_and_metrics(small):
    runs = list(train(np.random.default_rng(0), small, TINY, epochs=2))
    assert len(runs) == 2
    state, m = runs[-1]
    e = m.epochs[0]
    assert (e.epoch, e.step) == (2, 24)
    assert e.samples_per_s > 0 and e.ms_per_step > 0 and 0 <= e.train_accuracy <= 1
    more, m2 = train_for(state, small, TINY._replace(epochs=2), max_steps=5)
    assert len(m2.step) == 0 and more.stopped == "epochs"


def test_invalid_arguments(small):
    with pytest.raises(ValueError, match="input_shape"):
        init_train_state(np.random.default_rng(0), small, TINY._replace(architecture=mlp((64, 10))))
    state = init_train_state(np.random.default_rng(0), small, TINY)
    with pytest.raises(ValueError, match="schedule_unit"):
        train_for(state, small, TINY._replace(schedule_unit="batch"), max_steps=1)
    with pytest.raises(ValueError, match="epochs"):
        next(train(np.random.default_rng(0), small, TINY, epochs=0))


def test_layer_signals_match_an_independent_sgd_step(small):
    """SGD: ΔW = −lr·g, so ‖ΔW‖/‖W‖ = lr·‖g‖/‖W‖ with g recomputed from the same batch."""
    config = TINY._replace(architecture=mlp((784, 16, 12, 10)), optimizer="sgd", lr=0.05)
    state = init_train_state(np.random.default_rng(3), small, config)
    rows = state.order[: config.batch_size]
    _, grads, _ = loss_and_grads(
        config.architecture,
        state.params,
        to_float32(small.train.x[rows]),
        small.train.y[rows],
        activation=ACTIVATIONS["relu"](),
    )
    new, metrics = train_for(state, small, config, max_steps=1)
    assert len(metrics.grad_norms) == len(metrics.update_ratios) == 3
    weighted = [i for i, p in enumerate(state.params) if "W" in p]  # the three linear layers
    for j, i in enumerate(weighted):
        layer = state.params[i]
        g = np.linalg.norm(grads[i]["W"].astype(np.float64))
        w = np.linalg.norm(layer["W"].astype(np.float64))
        assert metrics.grad_norms[j] == pytest.approx(g, rel=1e-4)
        assert metrics.update_ratios[j] == pytest.approx(0.05 * g / w, rel=1e-3)
        moved = np.linalg.norm((new.params[i]["W"] - layer["W"]).astype(np.float64))
        assert metrics.update_ratios[j] == pytest.approx(moved / w, rel=1e-6)


def test_layer_signals_empty_without_a_step(small):
    state = init_train_state(np.random.default_rng(0), small, TINY)
    _, metrics = train_for(state, small, TINY._replace(epochs=0), max_steps=5)
    assert metrics.grad_norms == () and metrics.update_ratios == ()


def test_smooth_ema_is_the_debiased_weighted_mean(rng):
    x = rng.normal(size=50)
    w = 0.8
    got = smooth_ema(x, w)
    for t in (0, 1, 7, 49):
        k = np.arange(t + 1)
        weights = (1 - w) * w ** (t - k)
        assert got[t] == pytest.approx(np.sum(weights * x[: t + 1]) / weights.sum())
    assert got[0] == pytest.approx(x[0])
    np.testing.assert_allclose(smooth_ema(x, 0.0), x)
    assert smooth_ema(np.array([]), 0.9).shape == (0,)
    with pytest.raises(ValueError, match=r"weight=1\.0"):
        smooth_ema(x, 1.0)


def test_loss_plateau():
    flat_high = np.full(400, 2.3)
    falling = np.linspace(2.3, 0.3, 400)
    flat_low = np.full(400, 0.05)
    assert loss_plateau(flat_high)
    assert not loss_plateau(falling)
    assert not loss_plateau(flat_low)  # converged, not stuck
    assert not loss_plateau(flat_high[:150])  # too short to judge
    assert not loss_plateau(np.r_[flat_high[:300], np.full(100, np.nan)])
    with pytest.raises(ValueError, match="window=0"):
        loss_plateau(flat_high, window=0)


def test_confusion_matrix_matches_sklearn(rng):
    from sklearn.metrics import confusion_matrix as sk_confusion

    y, p = rng.integers(0, 10, 500), rng.integers(0, 10, 500)
    np.testing.assert_array_equal(
        training.confusion_matrix(y, p, 10), sk_confusion(y, p, labels=range(10))
    )
    y[y == 3] = 4  # class 3 never occurs: its normalised row stays 0 (sklearn warns, gives nan)
    shares = training.confusion_matrix(y, p, 10, normalize=True)
    with np.errstate(invalid="ignore"):
        expected = np.nan_to_num(sk_confusion(y, p, labels=range(10), normalize="true"))
    np.testing.assert_allclose(shares, expected)


def test_most_confused():
    m = np.diag(np.full(4, 50))
    m[2, 1], m[0, 3] = 7, 3
    assert training.most_confused(m) == (2, 1, 7)
    assert training.most_confused(np.diag([5, 5]))[2] == 0


def test_top_k(rng):
    probs = rng.dirichlet(np.ones(10), size=30)
    classes, top = training.top_k(probs, 3)
    assert classes.shape == top.shape == (30, 3)
    np.testing.assert_array_equal(classes[:, 0], probs.argmax(axis=1))
    np.testing.assert_allclose(top, -np.sort(-probs, axis=1)[:, :3])


def test_pick_examples(rng):
    probs = rng.dirichlet(np.ones(10), size=200)
    y = rng.integers(0, 10, 200)
    pred = probs.argmax(axis=1)
    sample = training.pick_examples(probs, y, "sample", 24, rng)
    assert len(set(sample)) == 24
    mistakes = training.pick_examples(probs, y, "mistakes", 24, rng)
    assert len(mistakes) == 24 and np.all(pred[mistakes] != y[mistakes])
    confident = training.pick_examples(probs, y, "confident_mistakes", 5, rng)
    wrong = np.flatnonzero(pred != y)
    best = np.sort(probs[wrong].max(axis=1))[::-1][:5]
    np.testing.assert_allclose(probs[confident].max(axis=1), best)
    assert len(training.pick_examples(probs, pred, "mistakes", 24, rng)) == 0  # all right
    with pytest.raises(ValueError, match="mode='best'"):
        training.pick_examples(probs, y, "best", 3, rng)


def test_train_on_plateau_steps_the_scheduler_with_each_epochs_validation_loss():
    from core.datasets import load_digits_8x8

    data = load_digits_8x8(seed=0)
    config = TrainConfig(
        architecture=mlp((64, 32, 10)), optimizer="momentum", lr=0.0, batch_size=64
    )
    start = init_train_state(np.random.default_rng(0), data, config)
    scheduler = plateau(0.1, patience=1, factor=0.5, threshold=0.05)
    state = training.train_on_plateau(start, data, config, 230, scheduler)
    h = state.history
    assert len(h.loss) == 230 and len(h.epochs) >= 10
    # Reference: the loss-sequence form (checked against torch) on the epochs' validation losses;
    # the lr during epoch e is the one after e calls of step(val_loss).
    after = reduce_lr_on_plateau(0.1, [e.val_loss for e in h.epochs], patience=1, factor=0.5,
                                 threshold=0.05)  # fmt: skip
    epoch_of_step = np.searchsorted([e.step for e in h.epochs], np.arange(230), side="right")
    expected = np.array([0.1, *after])[epoch_of_step]
    np.testing.assert_array_equal(h.lr, expected)
    assert h.lr[-1] < 0.1  # it did reduce


def test_a_whole_array_optimizer_updates_each_matrix_as_a_matrix(small):
    # Adafactor factors a matrix's second moment into row and column means: the trainer must
    # hand it each weight matrix in its shape, not one concatenation of every array.
    cfg = TINY._replace(optimizer="adafactor", lr=0.1)
    state, _ = train_for(
        init_train_state(np.random.default_rng(0), small, cfg), small, cfg, max_steps=2
    )
    for layer, states in zip(state.params, state.opt_states, strict=True):
        if "W" not in layer:
            continue
        n, m = layer["W"].shape
        assert states["W"].row_var.shape == (n, 1) and states["W"].col_var.shape == (1, m)
        assert states["W"].variance is None and states["b"].variance.shape == layer["b"].shape


def test_muon_takes_the_weight_matrices_and_adamw_the_rest(small):
    cfg = TINY._replace(optimizer="muon", lr=0.02, architecture=mlp((784, 16, 10), batch_norm=True))
    state, _ = train_for(
        init_train_state(np.random.default_rng(0), small, cfg), small, cfg, max_steps=2
    )
    for states in filter(None, state.opt_states):
        if "W" not in states:  # the batch norm's gamma and beta
            assert all(isinstance(s, AdamState) for s in states.values())
            continue
        assert isinstance(states["W"], MuonState) and states["W"].step == 2
        assert all(isinstance(states[k], AdamState) for k in states if k != "W")


def test_augmentation_draws_from_the_carried_rng_and_changes_what_is_learned(small):
    cfg = TINY._replace(augment=True)
    a, _ = train_for(
        init_train_state(np.random.default_rng(4), small, cfg), small, cfg, max_steps=5
    )
    b = init_train_state(np.random.default_rng(4), small, cfg)
    for n in (2, 3):
        b, _ = train_for(b, small, cfg, max_steps=n)
    assert same_run(a, b)  # seeded and resumable like every other random draw
    plain, _ = train_for(
        init_train_state(np.random.default_rng(4), small, TINY), small, TINY, max_steps=5
    )
    assert not np.array_equal(a.params[0]["W"], plain.params[0]["W"])


def test_a_cnn_learns_real_digits(small):
    cfg = TINY._replace(architecture=cnn((28, 28), ((4, 5, 2), (8, 5, 3))), lr=3e-3)
    state = init_train_state(np.random.default_rng(0), small, cfg)
    state, m = train_for(state, small, cfg, max_steps=36)  # three epochs of 600 images
    assert state.epoch == 3 and np.mean(m.loss[-6:]) < 0.6 * np.mean(m.loss[:3])
    assert state.history.epochs[-1].val_accuracy > 0.4  # chance is 0.1 (0.535 measured)
    assert len(m.grad_norms) == 3  # two convolutions and the linear layer


@pytest.mark.slow
def test_the_cnn_preset_reaches_96_5_percent_on_the_builtin_split_within_10_epochs():
    """Issue #24's goal on the 7,000 built-in training digits, with settings the page offers: the
    preset, ReLU, kaiming_uniform, Adam at lr 3e-3 (a stop of its lr slider), batch 128, seed 0.
    Measured (benchmarks/bench_cnn_training.py), test accuracy per epoch: 88.3 94.0 95.6 96.2
    96.4 96.6 96.8 96.7 96.9 97.25 %; seeds 1 and 2 end at 97.7 and 97.9 %. At the page's default
    lr 1e-3 the same seeds end at 95.8, 96.3 and 96.1 % (best 96.3-96.8 %): too close to the goal
    to test. ~15 s of CPU with one BLAS thread, as the app trains: a BLAS pool spinning its
    threads against other processes on a loaded machine took ten times as long."""
    data = builtin_mnist()
    config = TrainConfig(architecture=cnn((28, 28)), lr=3e-3, batch_size=128)
    with threadpool_limits(1):
        state = list(train(np.random.default_rng(0), data, config, epochs=10))[-1][0]
    assert state.epoch == 10 and state.diverged_at is None
    relu = ACTIVATIONS["relu"]()
    _, test_accuracy = evaluate(config.architecture, state.params, state.bn_state, data.test, relu)
    assert test_accuracy >= 0.965
