"""Losses: hand values, grad vs central differences, torch conventions, softmax stability."""

import inspect
import math
import warnings

import numpy as np
import pytest
from scipy.special import expit, rel_entr
from scipy.special import log_softmax as scipy_log_softmax
from scipy.special import logsumexp as scipy_logsumexp
from scipy.special import softmax as scipy_softmax

from core.losses import (
    LOSS_INPUTS,
    LOSS_KINDS,
    LOSS_PARAMS,
    LOSSES,
    TORCH_NAMES,
    cross_entropy_naive,
    cross_entropy_stable,
    log_softmax,
    logsumexp,
    loss_curve,
    softmax,
    softmax_naive,
)
from core.params import ParamError
from tests.numeric import numeric_grad
from tests.param_cases import defaults, param_sets

KEYS = [
    "mse",
    "mae",
    "huber",
    "smooth_l1",
    "log_cosh",
    "bce",
    "bce_with_logits",
    "cross_entropy",
    "nll_loss",
    "hinge",
    "squared_hinge",
    "contrastive",
    "kl_div",
]


CASES = [(k, p) for k in LOSSES for p in param_sets(LOSS_PARAMS[k])]


def case_id(case) -> str:
    key, params = case
    return key + "".join(f"-{n}={v:g}" for n, v in params.items())


def away_from(values: np.ndarray, kinks: list[float], gap: float = 0.02) -> np.ndarray:
    """Push values that fall within ``gap`` of a kink out to the kink ± gap."""
    for k in kinks:
        near = np.abs(values - k) < gap
        values = np.where(near, k + np.copysign(gap, values - k), values)
    return values


def samples(key: str, params: dict, rng: np.random.Generator) -> list[tuple]:
    """(y_true, y_pred) pairs of the loss's kind, with predictions away from its kinks."""
    inputs = LOSS_INPUTS[key]
    if inputs == "prediction":
        y = rng.normal(size=(3, 4))
        r = away_from(rng.normal(scale=2.0, size=(3, 4)), [0.0])
        cut = [*params.values()]  # huber's delta and smooth_l1's beta: where the pieces join
        return [(y, y + away_from(r, [c for v in cut for c in (v, -v)]))]
    if inputs == "probability":
        return [(np.array([0.0, 1.0, 1.0, 0.3, 0.0]), rng.uniform(0.05, 0.95, size=5))]
    if inputs == "logit":
        return [(np.array([0.0, 1.0, 1.0, 0.3, 0.0]), rng.normal(scale=3.0, size=5))]
    if inputs == "logits":
        logits = rng.normal(scale=2.0, size=(5, 4))
        return [(np.array([0, 3, 1, 1, 2]), logits), (rng.dirichlet(np.ones(4), size=5), logits)]
    if inputs == "log_probabilities":
        logq = scipy_log_softmax(rng.normal(size=(5, 4)), axis=1)
        return [(rng.dirichlet(np.ones(4), size=5), logq)]
    if inputs == "score":
        y = np.array([1.0, -1.0, 1.0, -1.0, 1.0, -1.0])
        f = rng.normal(scale=2.0, size=6)
        return [(y, y * away_from(y * f, [1.0]))]  # the hinge's kink is at y·f = 1
    if inputs == "distance":
        d = away_from(rng.uniform(0.0, 3.0, size=6), [params["margin"]])
        return [(np.array([1.0, 0.0, 1.0, 0.0, 0.0, 1.0]), d)]
    raise AssertionError(f"no test samples for {key=} with {inputs=}")


@pytest.mark.parametrize(("key", "params"), CASES, ids=map(case_id, CASES))
def test_grad_matches_central_difference(key, params, rng):
    loss = LOSSES[key](**params)
    for y_true, y_pred in samples(key, params, rng):
        numeric = numeric_grad(
            lambda y_true=y_true, y_pred=y_pred: loss.value(y_true, y_pred), y_pred
        )
        grad = loss.grad(y_true, y_pred)
        assert grad.shape == y_pred.shape
        np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-9)


def test_every_parametrised_entry_gets_a_non_default_case():
    for key, specs in LOSS_PARAMS.items():
        assert len(param_sets(specs)) == 1 + len(specs), key


# --- hand-computed values on tiny arrays -------------------------------------------------------


def test_mse_and_mae_by_hand():
    y, p = np.array([1.0, 2.0, 3.0]), np.array([1.0, 3.0, 5.0])
    assert LOSSES["mse"]().value(y, p) == pytest.approx(5 / 3)
    np.testing.assert_allclose(LOSSES["mse"]().grad(y, p), [0, 2 / 3, 4 / 3])
    assert LOSSES["mae"]().value(y, p) == pytest.approx(1.0)
    np.testing.assert_allclose(LOSSES["mae"]().grad(y, p), [0, 1 / 3, 1 / 3])


def test_huber_and_smooth_l1_by_hand():
    y, p = np.zeros(2), np.array([0.5, -2.0])
    assert LOSSES["huber"]().value(y, p) == pytest.approx((0.125 + 1.5) / 2)
    np.testing.assert_allclose(LOSSES["huber"]().grad(y, p), [0.25, -0.5])
    y, p = np.zeros(2), np.array([1.0, 3.0])
    assert LOSSES["huber"](delta=2.0).value(y, p) == pytest.approx((0.5 + 2 * (3 - 1)) / 2)
    assert LOSSES["smooth_l1"](beta=2.0).value(y, p) == pytest.approx((0.25 + (3 - 1)) / 2)
    np.testing.assert_allclose(LOSSES["smooth_l1"](beta=2.0).grad(y, p), [0.25, 0.5])


@pytest.mark.parametrize("delta", [0.3, 1.0, 2.5])
def test_huber_is_delta_times_smooth_l1_with_beta_delta(delta, rng):
    # torch.nn.HuberLoss docs: "HuberLoss(delta) == delta * SmoothL1Loss(beta=delta)".
    y, p = rng.normal(size=20), rng.normal(scale=3.0, size=20)
    h, s = LOSSES["huber"](delta=delta), LOSSES["smooth_l1"](beta=delta)
    assert h.value(y, p) == pytest.approx(delta * s.value(y, p), rel=1e-14)
    np.testing.assert_allclose(h.grad(y, p), delta * s.grad(y, p), rtol=1e-14)


def test_smooth_l1_with_beta_zero_is_l1(rng):
    y, p = rng.normal(size=10), rng.normal(size=10)
    assert LOSSES["smooth_l1"](beta=0.0).value(y, p) == LOSSES["mae"]().value(y, p)
    np.testing.assert_array_equal(LOSSES["smooth_l1"](beta=0.0).grad(y, p), np.sign(p - y) / 10)


def test_log_cosh_matches_formula_and_is_stable():
    r = np.linspace(-20, 20, 81)
    got = LOSSES["log_cosh"]().value(np.zeros(81), r)
    assert got == pytest.approx(np.mean(np.log(np.cosh(r))), rel=1e-13)
    assert LOSSES["log_cosh"]().value(np.zeros(1), np.array([1e4])) == 1e4 - math.log(2)
    np.testing.assert_array_equal(
        LOSSES["log_cosh"]().grad(np.zeros(2), np.array([-1e4, 1e4])), [-0.5, 0.5]
    )


class _TorchStandIn:
    """The few torch functions the shown expressions call, elementwise as NumPy's."""

    abs, log1p, exp = staticmethod(np.abs), staticmethod(np.log1p), staticmethod(np.exp)
    log, cosh = staticmethod(np.log), staticmethod(np.cosh)


def _run_torch_expression(template, y_true, y_pred):
    namespace = {"torch": _TorchStandIn, "math": math, "y_true": y_true, "y_pred": y_pred}
    with np.errstate(over="ignore"):
        return float(eval(template.format(), namespace))  # our own registry text, not user input


def test_the_torch_code_shown_for_log_cosh_is_stable_and_is_what_core_computes():
    y = np.zeros(7)
    for r in (np.linspace(-3, 3, 7), np.array([-1e4, -800.0, -711.0, 0.0, 711.0, 800.0, 1e4])):
        shown = _run_torch_expression(TORCH_NAMES["log_cosh"], y, r)
        assert math.isfinite(shown)
        assert shown == LOSSES["log_cosh"]().value(y, r)
    small = np.linspace(-3, 3, 7)
    assert _run_torch_expression(TORCH_NAMES["log_cosh"], y, small) == pytest.approx(
        np.mean(np.log(np.cosh(small))), rel=1e-14
    )
    assert not math.isfinite(  # what the page showed before: cosh overflows past |r| ≈ 710
        _run_torch_expression("torch.log(torch.cosh(y_pred - y_true)).mean()", y[:1], [800.0])
    )


@pytest.mark.parametrize("name", ["cross_entropy", "bce_with_logits", "kl_div", "mse", "bce"])
def test_a_perfect_prediction_costs_plus_zero_not_minus_zero(name):
    y_true, y_pred = {
        "cross_entropy": (np.array([0]), np.array([[800.0, 0.0]])),
        "bce_with_logits": (np.array([1.0]), np.array([800.0])),
        "kl_div": (np.array([[1.0, 0.0]]), np.array([[0.0, -800.0]])),
        "mse": (np.array([0.5]), np.array([0.5])),
        "bce": (np.array([1.0]), np.array([1.0])),
    }[name]
    value = LOSSES[name]().value(y_true, y_pred)
    assert value == 0 and math.copysign(1.0, value) == 1.0, value
    assert f"{value:g}" == "0"


def test_the_softmax_panels_cross_entropy_of_a_sure_prediction_is_plus_zero():
    # softmax_naive([30, −30])[0] rounds to 1.0 and −log 1.0 is −0.0, which showed as "-0".
    for ce in (cross_entropy_naive, cross_entropy_stable):
        value = ce(np.array([30.0, -30.0]), 0)
        assert value == 0 and f"{value:g}" == "0", ce


def test_bce_by_hand_and_torch_clamp():
    bce = LOSSES["bce"]()
    expected = -(math.log(0.9) + math.log(0.8)) / 2
    assert bce.value(np.array([1.0, 0.0]), np.array([0.9, 0.2])) == pytest.approx(expected)
    # torch clamps log at −100: a confident wrong answer costs exactly 100, a right one 0.
    assert bce.value(np.array([1.0]), np.array([0.0])) == 100.0
    assert bce.value(np.array([0.0, 1.0]), np.array([0.0, 1.0])) == 0.0
    # torch's backward floors p(1 − p) at 1e-12.
    assert bce.grad(np.array([1.0]), np.array([0.0]))[0] == pytest.approx(-1e12)


def test_bce_with_logits_equals_bce_of_sigmoid_and_is_stable(rng):
    y, z = rng.uniform(size=12), rng.normal(scale=4.0, size=12)
    stable = LOSSES["bce_with_logits"]()
    assert stable.value(y, z) == pytest.approx(LOSSES["bce"]().value(y, expit(z)), rel=1e-12)
    np.testing.assert_allclose(stable.grad(y, z), (expit(z) - y) / 12, rtol=1e-14)
    # A logit of 1e4 for the wrong class: the exact loss 1e4, not capped at 100 or inf.
    assert stable.value(np.array([0.0]), np.array([1e4])) == 1e4
    assert stable.value(np.array([1.0]), np.array([1e4])) == 0.0


def test_cross_entropy_by_hand_labels_and_one_hot_agree():
    ce = LOSSES["cross_entropy"]()
    logits = np.array([[1.0, 2.0, 3.0], [0.5, 0.5, -1.0]])
    row0 = math.log(math.exp(1) + math.exp(2) + math.exp(3)) - 3
    row1 = math.log(2 * math.exp(0.5) + math.exp(-1)) - 0.5
    assert ce.value(np.array([2, 0]), logits) == pytest.approx((row0 + row1) / 2)
    one_hot = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    assert ce.value(one_hot, logits) == pytest.approx((row0 + row1) / 2)
    np.testing.assert_allclose(ce.grad(np.array([2, 0]), logits), ce.grad(one_hot, logits))
    np.testing.assert_allclose(
        ce.grad(one_hot, logits), (scipy_softmax(logits, axis=1) - one_hot) / 2, rtol=1e-14
    )


def test_cross_entropy_with_probability_targets_matches_scipy(rng):
    y, z = rng.dirichlet(np.ones(5), size=4), rng.normal(size=(4, 5))
    expected = -np.sum(y * scipy_log_softmax(z, axis=1)) / 4
    assert LOSSES["cross_entropy"]().value(y, z) == pytest.approx(expected, rel=1e-13)


def test_cross_entropy_is_stable_at_huge_logits_where_naive_is_not():
    logits = np.array([1e4, 0.0, -1e4])
    ce = LOSSES["cross_entropy"]()
    assert ce.value(np.array([0]), logits[None]) == 0.0
    assert ce.value(np.array([1]), logits[None]) == 1e4
    assert ce.value(np.array([2]), logits[None]) == 2e4
    np.testing.assert_array_equal(ce.grad(np.array([1]), logits[None]), [[1.0, -1.0, 0.0]])
    assert cross_entropy_stable(logits, 1) == 1e4
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert math.isnan(cross_entropy_naive(logits, 0))  # inf / inf
        assert cross_entropy_naive(logits, 1) == math.inf  # 0 / inf, then −log 0
    small = np.array([0.3, -1.2, 2.0])
    assert cross_entropy_naive(small, 2) == pytest.approx(cross_entropy_stable(small, 2))


def test_hinge_and_squared_hinge_by_hand():
    y, f = np.array([1.0, -1.0, 1.0]), np.array([2.0, 0.5, -1.0])
    assert LOSSES["hinge"]().value(y, f) == pytest.approx((0 + 1.5 + 2) / 3)
    np.testing.assert_allclose(LOSSES["hinge"]().grad(y, f), [0, 1 / 3, -1 / 3])
    assert LOSSES["squared_hinge"]().value(y, f) == pytest.approx((0 + 2.25 + 4) / 3)
    np.testing.assert_allclose(LOSSES["squared_hinge"]().grad(y, f), [0, 1.0, -4 / 3])


def _clamp_min_backward(u, grad, low=0.0):
    """torch's clamp_backward with only ``min`` (FunctionsManual.cpp): where(u >= min, grad, 0)."""
    return np.where(u >= low, grad, 0.0)


def test_hinge_at_the_margin_takes_the_subgradient_of_the_torch_code_shown():
    # Reference: autograd through torch.clamp(1 - y_true * y_pred, min=0).mean(), by hand:
    # d mean / d clamp = 1/N, then clamp's backward, then d(1 − y·f)/df = −y.
    y = np.array([1.0, -1.0, 1.0, -1.0, 1.0, -1.0])
    f = np.array([1.0, -1.0, 0.5, 0.5, 3.0, -2.0])  # the first two sit exactly on the margin
    expected = _clamp_min_backward(1 - y * f, np.full(6, 1 / 6)) * -y
    got = LOSSES["hinge"]().grad(y, f)
    np.testing.assert_array_equal(got, expected)
    assert got[0] == -1 / 6 and got[1] == 1 / 6
    assert "torch.clamp(1 - y_true * y_pred, min=0)" in TORCH_NAMES["hinge"]


def test_contrastive_convention_half_and_label_one_is_similar():
    # Hadsell et al. form with the ½: similar (1) pays ½d², dissimilar (0) pays ½max(0, m − d)².
    y, d = np.array([1.0, 0.0, 0.0]), np.array([0.5, 0.25, 2.0])
    assert LOSSES["contrastive"]().value(y, d) == pytest.approx((0.125 + 0.5 * 0.75**2 + 0) / 3)
    np.testing.assert_allclose(LOSSES["contrastive"]().grad(y, d), [0.5 / 3, -0.75 / 3, 0])
    assert LOSSES["contrastive"](margin=2.0).value(np.array([0.0]), np.array([0.5])) == 1.125


def test_kl_div_batchmean_by_hand_and_vs_scipy(rng):
    kl = LOSSES["kl_div"]()
    target = np.array([[0.5, 0.5], [1.0, 0.0]])
    logq = np.log([[0.25, 0.75], [0.5, 0.5]])
    by_hand = (0.5 * math.log(2) + 0.5 * math.log(0.5 / 0.75) + math.log(2)) / 2
    assert kl.value(target, logq) == pytest.approx(by_hand, rel=1e-14)
    p, q = rng.dirichlet(np.ones(6), size=3), rng.dirichlet(np.ones(6), size=3)
    assert kl.value(p, np.log(q)) == pytest.approx(np.sum(rel_entr(p, q)) / 3, rel=1e-13)
    np.testing.assert_array_equal(kl.grad(p, np.log(q)), -p / 3)
    # torch's batchmean divides by input.size(0), so a 1-D input divides by its length.
    assert kl.value(target[0], logq[0]) == pytest.approx(
        np.sum(rel_entr(target[0], [0.25, 0.75])) / 2
    )


def test_kl_div_is_cross_entropy_minus_target_entropy(rng):
    y, z = rng.dirichlet(np.ones(4), size=5), rng.normal(size=(5, 4))
    entropy = -np.sum(y * np.log(y)) / 5
    kl = LOSSES["kl_div"]().value(y, log_softmax(z))
    assert kl == pytest.approx(LOSSES["cross_entropy"]().value(y, z) - entropy, rel=1e-12)


# --- softmax helpers ----------------------------------------------------------------------------


@pytest.mark.parametrize("temperature", [0.1, 0.5, 1.0, 3.0])
def test_softmax_with_temperature(temperature, rng):
    z = rng.normal(scale=5.0, size=(4, 7))
    p = softmax(z, temperature=temperature)
    np.testing.assert_allclose(p.sum(axis=-1), 1.0, rtol=1e-14)
    np.testing.assert_allclose(p, scipy_softmax(z / temperature, axis=-1), rtol=1e-12)
    np.testing.assert_allclose(softmax(z + 123.0, temperature=temperature), p, rtol=1e-12)
    np.testing.assert_allclose(softmax(z.T, temperature=temperature, axis=0), p.T, rtol=1e-14)
    np.testing.assert_allclose(
        log_softmax(z, temperature=temperature),
        scipy_log_softmax(z / temperature, axis=-1),
        rtol=1e-12,
        atol=1e-12,
    )


def test_temperature_limits():
    z = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(softmax(z, temperature=0.01), [0.0, 0.0, 1.0], atol=1e-40)
    np.testing.assert_allclose(softmax(z, temperature=1e6), [1 / 3] * 3, rtol=1e-5)


def test_naive_softmax_overflows_silently_while_stable_does_not():
    z = np.array([1000.0, 0.0, -1000.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        naive = softmax_naive(z)
        stable = softmax(z)
    assert np.isnan(naive[0])
    np.testing.assert_array_equal(stable, [1.0, 0.0, 0.0])
    small = np.array([0.1, -2.0, 1.5])
    np.testing.assert_allclose(softmax_naive(small, temperature=2.0), softmax(small, 2.0))


def test_logsumexp_matches_scipy_and_handles_extremes():
    z = np.array([[1e4, 1e4, -3.0], [-1e4, -1e4, -1e4], [0.1, 0.2, 0.3]])
    np.testing.assert_allclose(logsumexp(z), scipy_logsumexp(z, axis=-1), rtol=1e-14)
    np.testing.assert_allclose(logsumexp(z, axis=0), scipy_logsumexp(z, axis=0), rtol=1e-14)
    assert logsumexp(z, keepdims=True).shape == (3, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert logsumexp(np.array([-np.inf, -np.inf])) == -np.inf


def test_softmax_keeps_float32():
    z = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    for fn in (softmax, log_softmax, softmax_naive, logsumexp):
        assert fn(z).dtype == np.float32


# --- loss_curve ---------------------------------------------------------------------------------

CURVE_TARGET = {"regression": 0.5, "binary": 1.0, "multiclass": 0.7, "margin": -1.0, "pair": 0.0}


def curve_x(key: str) -> np.ndarray:
    lo, hi = {"probability": (0.02, 0.98), "distance": (0.0, 3.0)}.get(LOSS_INPUTS[key], (-3, 3))
    return np.linspace(lo, hi, 61) + 0.0037  # off the grid of kinks at simple numbers


@pytest.mark.parametrize(("key", "params"), CASES, ids=map(case_id, CASES))
def test_loss_curve_slope_matches_its_values(key, params):
    x, target = curve_x(key), CURVE_TARGET[LOSS_KINDS[key]]
    values, slopes = loss_curve(key, x, target, **params)
    h = 1e-6
    up, _ = loss_curve(key, x + h, target, **params)
    down, _ = loss_curve(key, x - h, target, **params)
    kinks = np.abs(x - target) < 2e-3  # only hinge-like kinks fall near the target or margin
    np.testing.assert_allclose(
        slopes[~kinks], ((up - down) / (2 * h))[~kinks], rtol=1e-5, atol=1e-9
    )
    assert values.shape == slopes.shape == x.shape


def test_loss_curves_match_their_one_point_definitions():
    x = np.linspace(-3, 3, 13)
    np.testing.assert_allclose(loss_curve("mse", x, 1.0)[0], (x - 1) ** 2)
    # Two-class cross-entropy over logits (x, 0) is binary cross-entropy with logit x.
    ce = loss_curve("cross_entropy", x, 0.7)
    bce = loss_curve("bce_with_logits", x, 0.7)
    np.testing.assert_allclose(ce[0], bce[0], rtol=1e-13)
    np.testing.assert_allclose(ce[1], bce[1], rtol=1e-12, atol=1e-15)
    # KL divergence is that minus the target's entropy, with the same slope.
    kl = loss_curve("kl_div", x, 0.7)
    entropy = -(0.7 * math.log(0.7) + 0.3 * math.log(0.3))
    np.testing.assert_allclose(kl[0], ce[0] - entropy, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(kl[1], ce[1], rtol=1e-12, atol=1e-15)


# --- robustness, dtypes, validation -------------------------------------------------------------


@pytest.mark.parametrize(("key", "params"), CASES, ids=map(case_id, CASES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_extreme_predictions_give_finite_loss_without_warnings(key, params, dtype, rng):
    loss = LOSSES[key](**params)
    y_true, y_pred = samples(key, params, rng)[0]
    inputs = LOSS_INPUTS[key]
    if inputs == "probability":
        y_pred = np.array([0.0, 1.0, 0.0, 1.0, 1e-30])
    elif inputs == "log_probabilities":
        y_pred = np.where(y_pred > -1, 0.0, -1e4)
    elif inputs == "distance":
        y_pred = np.array([0.0, 0.0, 1e4, 1e4, 1e6, 1e-8])
    else:
        y_pred = np.resize([1e4, -1e4, 1e6, -1e6, 0.0], y_pred.shape)
    y_pred = y_pred.astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value, grad = loss.value(y_true, y_pred), loss.grad(y_true, y_pred)
    assert isinstance(value, float) and math.isfinite(value)
    assert grad.dtype == dtype and grad.shape == y_pred.shape and np.all(np.isfinite(grad))


@pytest.mark.parametrize("key", LOSSES)
def test_float32_agrees_with_float64(key, rng):
    loss = LOSSES[key](**defaults(LOSS_PARAMS[key]))
    y_true, y_pred = samples(key, defaults(LOSS_PARAMS[key]), rng)[0]
    p32 = y_pred.astype(np.float32)
    assert loss.value(y_true, p32) == pytest.approx(loss.value(y_true, p32.astype(float)), rel=1e-5)
    np.testing.assert_allclose(
        loss.grad(y_true, p32), loss.grad(y_true, p32.astype(float)), rtol=1e-4, atol=1e-6
    )


def test_diverged_predictions_are_reported_as_inf_or_nan_not_warned():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert LOSSES["mse"]().value(np.zeros(2), np.array([1e200, 0.0])) == math.inf
        assert math.isnan(LOSSES["mse"]().value(np.zeros(1), np.array([np.nan])))
        assert math.isnan(LOSSES["bce"]().value(np.ones(1), np.array([np.nan])))


INVALID_PARAMS = [
    ("huber", {"delta": 0.0}, "delta=0.0"),
    ("smooth_l1", {"beta": -1.0}, "beta=-1.0"),
    ("contrastive", {"margin": 0.0}, "margin=0.0"),
]


@pytest.mark.parametrize(("key", "params", "quoted"), INVALID_PARAMS)
def test_invalid_parameters_raise_value_error_quoting_the_value(key, params, quoted):
    with pytest.raises(ValueError, match=quoted):
        LOSSES[key](**params)


INVALID_DATA = [
    ("mse", np.zeros(3), np.zeros(4), "y_true.shape"),
    ("mse", np.zeros(0), np.zeros(0), "y_pred.size=0"),
    ("bce", np.ones(2), np.array([0.5, 1.5]), r"y_pred must lie in \[0, 1\]"),
    ("bce", np.array([2.0, 0.0]), np.array([0.5, 0.5]), r"y_true must lie in \[0, 1\]"),
    ("hinge", np.array([0.0, 1.0]), np.zeros(2), "be -1 or \\+1"),
    ("contrastive", np.array([1.0, 0.0]), np.array([0.5, -0.1]), "be >= 0"),
    ("contrastive", np.array([2.0, 0.0]), np.array([0.5, 0.1]), "be 0 or 1"),
    ("cross_entropy", np.array([0, 3]), np.zeros((2, 3)), r"integers in \[0, 3\)"),
    ("cross_entropy", np.array([0.5, 1.0]), np.zeros((2, 3)), "integers"),
    ("cross_entropy", np.zeros((2, 2)), np.zeros((2, 3)), "y.shape"),
    ("cross_entropy", np.array([0]), np.zeros(3), "z.shape"),
    ("kl_div", np.array([-0.5, 1.5]), np.zeros(2), "be >= 0"),
]


@pytest.mark.parametrize(("key", "y_true", "y_pred", "message"), INVALID_DATA)
def test_malformed_arguments_raise_value_error(key, y_true, y_pred, message):
    loss = LOSSES[key]()
    with pytest.raises(ValueError, match=message):
        loss.value(y_true, y_pred)
    with pytest.raises(ValueError, match=message):
        loss.grad(y_true, y_pred)


@pytest.mark.parametrize("fn", [softmax, log_softmax, softmax_naive])
def test_non_positive_temperature_raises(fn):
    with pytest.raises(ValueError, match="temperature=0"):
        fn(np.zeros(3), temperature=0)


# --- metadata -----------------------------------------------------------------------------------


def test_registry_keys_and_order():
    assert list(LOSSES) == KEYS
    for table in (LOSS_PARAMS, TORCH_NAMES, LOSS_KINDS, LOSS_INPUTS):
        assert list(table) == KEYS
    assert set(LOSS_KINDS.values()) == {"regression", "binary", "multiclass", "margin", "pair"}


@pytest.mark.parametrize("key", LOSSES)
def test_metadata_matches_factory_signature(key):
    signature = inspect.signature(LOSSES[key]).parameters
    assert list(LOSS_PARAMS[key]) == list(signature)
    for name, spec in LOSS_PARAMS[key].items():
        assert spec.default == signature[name].default
        assert spec.kind == "float" and spec.low <= spec.default <= spec.high and spec.step > 0
        LOSSES[key](**{name: spec.low})  # the whole widget range is valid
        LOSSES[key](**{name: spec.high})


@pytest.mark.parametrize("key", LOSSES)
def test_torch_name_template_formats_with_the_parameters(key):
    text = TORCH_NAMES[key].format(**defaults(LOSS_PARAMS[key]))
    assert "torch." in text and "{" not in text
    for name, value in defaults(LOSS_PARAMS[key]).items():
        assert str(value) in text, name
    assert TORCH_NAMES["huber"].format(delta=2.0) == "torch.nn.HuberLoss(delta=2.0)"


@pytest.mark.parametrize(("key", "param"), [("huber", "delta"), ("contrastive", "margin")])
def test_a_refused_parameter_is_named_with_its_rule(key, param):
    with pytest.raises(ParamError) as raised:
        LOSSES[key](**{param: 0.0})
    assert (raised.value.param, raised.value.rule) == (param, "gt_0")


# --- nll_loss and label smoothing against torch's documented formulas ---------------------------


def test_nll_loss_is_minus_the_mean_log_probability_of_the_label(rng):
    # torch.nn.NLLLoss: l_n = -x[n, y_n], mean over n (no class weights).
    logq = scipy_log_softmax(rng.normal(size=(4, 3)), axis=1)
    labels = np.array([2, 0, 0, 1])
    expected = -sum(logq[n, labels[n]] for n in range(4)) / 4
    nll = LOSSES["nll_loss"]()
    assert nll.value(labels, logq) == pytest.approx(expected, rel=1e-15)
    np.testing.assert_array_equal(nll.grad(labels, logq), -np.eye(3)[labels] / 4)
    assert nll.value(np.eye(3)[labels], logq) == pytest.approx(expected, rel=1e-15)


def test_cross_entropy_is_log_softmax_then_nll(rng):
    # torch's docs: CrossEntropyLoss combines LogSoftmax and NLLLoss.
    z, labels = rng.normal(scale=3.0, size=(6, 5)), rng.integers(0, 5, size=6)
    ce = LOSSES["cross_entropy"]().value(labels, z)
    assert ce == pytest.approx(LOSSES["nll_loss"]().value(labels, scipy_log_softmax(z, axis=1)))


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.35, 1.0])
def test_label_smoothing_follows_torchs_formula(eps, rng):
    # torch's docs: with label smoothing eps the target becomes (1 - eps)·onehot + eps/C, i.e.
    # l_n = (1 - eps)·(-log p[n, y_n]) + eps·mean_c(-log p[n, c]).
    z, labels = rng.normal(scale=2.0, size=(5, 4)), np.array([3, 0, 1, 1, 2])
    expected = 0.0
    for n in range(5):
        logp = [zc - math.log(sum(math.exp(v) for v in z[n])) for zc in z[n]]
        expected += (1 - eps) * -logp[labels[n]] + eps * -sum(logp) / 4
    ce = LOSSES["cross_entropy"](label_smoothing=eps)
    assert ce.value(labels, z) == pytest.approx(expected / 5, rel=1e-13)
    smoothed = (1 - eps) * np.eye(4)[labels] + eps / 4
    np.testing.assert_allclose(ce.grad(labels, z), (softmax(z) - smoothed) / 5, atol=1e-15)
    with pytest.raises(ValueError, match="label_smoothing"):
        LOSSES["cross_entropy"](label_smoothing=1.5)
