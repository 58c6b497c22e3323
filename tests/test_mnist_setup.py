"""core.mnist_setup: what the MNIST page's settings mean, checked against hand-worked values and
against the core functions it hands on to (TrainConfig, the schedules, predict_proba)."""

import numpy as np
import pytest

from core.activations import ACTIVATIONS
from core.mnist_setup import (
    MAX_LAYERS,
    MAX_WIDTH,
    Network,
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
)
from core.network import TensorCheck, init_params, mlp, predict_proba
from core.optimizers import OPTIMIZER_ENTRIES, OPTIMIZERS
from core.schedules import step_lr

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
