"""core.mnist_setup: what the MNIST page's settings mean, checked against hand-worked values and
against the core functions it hands on to (TrainConfig, the schedules, predict_proba)."""

import itertools

import numpy as np
import pytest

from core.activations import ACTIVATIONS
from core.datasets import Dataset, Split
from core.mnist_setup import (
    CONV1_CHANNELS,
    CONV2_CHANNELS,
    EVAL_BUDGET,
    KERNELS,
    MAX_LAYERS,
    MAX_WIDTH,
    STEP_BUDGET,
    Budget,
    Network,
    architecture,
    budget,
    checked_hyperparameters,
    exposed,
    finite_probabilities,
    gradcheck_verdict,
    layer_sizes,
    nearest,
    parse_hidden,
    run_label,
    signal_series,
    train_config,
    within_budget,
)
from core.network import TensorCheck, init_params, mlp, multiply_adds, predict_proba
from core.optimizers import OPTIMIZER_ENTRIES, OPTIMIZERS
from core.schedules import step_lr
from core.training import TrainConfig

NET = Network(
    hidden=(64, 32), activation="tanh", initializer="xavier_normal", dropout=0.0,
    batch_norm=False, batch=64, seed=3, optimizer="sgd", lr=0.1, schedule="none",
    hyperparameters={"momentum": 0.9}, schedule_params={},
)  # fmt: skip


@pytest.mark.parametrize(
    ("text", "widths"),
    [
        ("128", (128,)),
        ("256, 128", (256, 128)),
        ("64 32", (64, 32)),
        ("64，32，16", (64, 32, 16)),  # the Chinese comma
        ("", ()),  # no hidden layer: softmax regression
        ("12, abc", None),
        (f"{MAX_WIDTH + 1}", None),
        ("0", None),
        (", ".join(["8"] * (MAX_LAYERS + 1)), None),
    ],
)
def test_parse_hidden(text, widths):
    assert parse_hidden(text) == widths


def test_nearest_is_in_log_distance_and_forgives_junk():
    stops = (1e-3, 3e-3, 1e-2)
    # 0.0019 is nearer 0.001 on a line but nearer 0.003 in ratio (1.58 against 1.9).
    assert nearest(0.0019, stops) == 3e-3
    assert nearest(0.0019, stops, log=False) == 1e-3
    assert nearest(100, (1, 8, 64, 128)) == 128  # log(128/100) < log(100/64)
    assert nearest(0, stops) == 1e-3 and nearest("junk", stops) == 1e-3


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_exposed_is_every_hyperparameter_but_lr(optimizer):
    assert exposed(optimizer) == [
        hp for hp in OPTIMIZER_ENTRIES[optimizer].hyperparameters if hp != "lr"
    ]
    assert "lr" not in exposed(optimizer)


def test_refused_hyperparameters_fall_back_to_the_defaults_with_the_reason():
    good = {"momentum": 0.5, "dampening": 0.0, "weight_decay": 0.0, "nesterov": True}
    assert checked_hyperparameters("sgd", 0.1, good) == (good, None)
    # torch's rule: Nesterov needs a momentum and no dampening.
    bad = good | {"dampening": 0.5}
    hps, reason = checked_hyperparameters("sgd", 0.1, bad)
    assert hps == {k: v for k, v in OPTIMIZER_ENTRIES["sgd"].defaults().items() if k != "lr"}
    assert reason


def test_train_config_and_a_schedule_in_epochs():
    config = train_config((28, 28), NET, (("gain", 1.0),))
    assert (784, 64, 32, 10) == layer_sizes((28, 28), NET.hidden)
    assert config.architecture == mlp((784, 64, 32, 10))
    assert config.lr == 0.1 and config.schedule_unit == "epoch" and config.batch_size == 64
    assert config.hyperparameters == (("momentum", 0.9),)
    assert config.init_kwargs == (("gain", 1.0),)
    stepped = NET._replace(schedule="step_lr", schedule_params={"step_size": 2, "gamma": 0.5})
    schedule = train_config((8, 8), stepped, ()).lr
    epochs = np.arange(6)
    np.testing.assert_allclose(schedule(epochs), step_lr(0.1, 2, 0.5)(epochs))
    np.testing.assert_allclose(schedule(epochs), [0.1, 0.1, 0.05, 0.05, 0.025, 0.025])


def test_run_label_names_only_what_differs_from_plain():
    names = ("SGD", "StepLR")
    arch = mlp((784, 64, 32, 10))
    plain = run_label(NET, arch, 7000, 7000, names)
    assert plain == "SGD · lr=0.1 · 784–64–32–10 · tanh · bs=64"
    full = NET._replace(schedule="step_lr", dropout=0.25, batch_norm=True)
    assert run_label(full, arch, 500, 7000, names) == (
        "SGD · lr=0.1 (StepLR) · 784–64–32–10 · tanh · bs=64 · dropout=0.25 · BN · n=500"
    )


def test_finite_probabilities_or_none_once_diverged(rng):
    arch = mlp((4, 3, 10))
    params = init_params(rng, arch)
    x = rng.standard_normal((5, 4))
    probs = finite_probabilities(arch, params, x, "relu", None)
    expected = predict_proba(arch, params, x, activation=ACTIVATIONS["relu"]())
    np.testing.assert_array_equal(probs, expected)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-6)  # float32
    params[0]["W"] = np.full_like(params[0]["W"], np.nan)
    assert finite_probabilities(arch, params, x, "relu", None) is None


def test_gradcheck_verdict_names_the_worst_and_the_failed_tensors():
    w0, b0, w1 = (
        TensorCheck(0, "W", 1e-9, 2),
        TensorCheck(0, "b", 1e-8, 2),
        TensorCheck(1, "W", 0, 2),
    )
    assert gradcheck_verdict([w0, b0, w1]) == ("ok", b0, [])
    bad = b0._replace(rel=1e-2)
    assert gradcheck_verdict([w0, bad, w1]) == ("bad", bad, [bad])
    lost = w1._replace(rel=float("nan"))
    assert gradcheck_verdict([w0, bad, lost]) == ("bad", lost, [bad, lost])
    nothing = [c._replace(rel=float("nan")) for c in (w0, b0)]
    assert gradcheck_verdict(nothing)[0] == "na"


def test_signal_series_splits_rows_into_arrays():
    rows = [(1, [0.5, 0.25], [1e-3, 2e-3]), (2, [0.4, 0.2], [1e-3, 1e-3])]
    steps, norms, ratios = signal_series(rows)
    np.testing.assert_array_equal(steps, [1.0, 2.0])
    assert norms.shape == ratios.shape == (2, 2)
    assert norms[1, 0] == 0.4 and ratios[0, 1] == 2e-3


BATCH_STOPS = (1, 8, 16, 32, 64, 128, 256, 512, 1024)


# The page's defaults; the tests below change only what builds the network.
PAGE_NET = Network(
    (128,), "relu", "kaiming_uniform", 0.0, False, 128, 0, "adam", 1e-3, "none", {}, {}
)


def page_networks():
    """Every CNN the page's choices build, and MLPs from the smallest to the widest allowed."""
    for c1, k1, c2, k2 in itertools.product(CONV1_CHANNELS, KERNELS, CONV2_CHANNELS, KERNELS):
        yield architecture((28, 28), PAGE_NET._replace(family="cnn", conv=((c1, k1), (c2, k2))))
    for hidden in ((1,), (128,), (MAX_WIDTH,) * MAX_LAYERS):
        yield architecture((28, 28), PAGE_NET._replace(hidden=hidden))


def test_no_page_network_evaluates_or_steps_beyond_the_budget():
    for arch in page_networks():
        share = budget(arch, BATCH_STOPS)
        assert share.multiply_adds == multiply_adds(arch)
        assert share.eval_rows * share.multiply_adds <= EVAL_BUDGET
        assert 3 * share.batch * share.multiply_adds <= STEP_BUDGET
        # and no tighter than the stops allow: one stop more would pass the budget
        bigger = [b for b in BATCH_STOPS if b > share.batch]
        assert not bigger or 3 * bigger[0] * share.multiply_adds > STEP_BUDGET


def test_the_preset_keeps_all_of_full_mnist_and_the_largest_cnn_is_cut():
    preset = architecture((28, 28), PAGE_NET._replace(family="cnn", conv=((8, 5), (16, 5))))
    assert budget(preset, BATCH_STOPS).eval_rows >= 10_000
    assert budget(preset, BATCH_STOPS).batch == 1024
    largest = architecture((28, 28), PAGE_NET._replace(family="cnn", conv=((32, 7), (32, 7))))
    assert budget(largest, BATCH_STOPS)[1:] == (900, 256)


def test_within_budget_cuts_evaluation_splits_and_the_batch_only():
    x = np.arange(50 * 4, dtype=np.uint8).reshape(50, 2, 2)
    y = np.arange(50) % 10
    data = Dataset("d", Split(x, y), Split(x[:30], y[:30]), Split(x[:40], y[:40]), (2, 2))
    config = TrainConfig(architecture=mlp((4, 10)), batch_size=512)
    share = Budget(multiply_adds=40, eval_rows=20, batch=256)
    cut, cut_config = within_budget(data, config, share)
    assert [len(s.y) for s in (cut.train, cut.val, cut.test)] == [50, 20, 20]
    np.testing.assert_array_equal(cut.test.x, x[:20])
    assert cut_config == config._replace(batch_size=256)
    roomy = Budget(multiply_adds=40, eval_rows=100, batch=1024)
    same, same_config = within_budget(data, config, roomy)
    assert [len(s.y) for s in (same.train, same.val, same.test)] == [50, 30, 40]
    assert same_config == config
