"""Activations: grad vs central differences, published values, extreme inputs, metadata."""

import inspect
import itertools
import math
import warnings

import numpy as np
import pytest
from scipy.special import expit, ndtr

from core.activations import (
    ACTIVATION_PARAMS,
    ACTIVATIONS,
    TORCH_NAMES,
    value_and_grad,
)
from core.params import ParamError
from tests.param_cases import defaults, param_sets

KEYS = [
    "identity",
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "relu6",
    "hardtanh",
    "hardsigmoid",
    "softsign",
    "elu",
    "selu",
    "gelu",
    "silu",
    "softplus",
    "mish",
]


def corner_sets(key: str) -> list[dict]:
    """Every combination of each numeric parameter's widget min and max (choices at each option)."""
    specs = ACTIVATION_PARAMS[key]
    axes = [
        spec.options if spec.kind == "choice" else (spec.low, spec.high) for spec in specs.values()
    ]
    return [dict(zip(specs, combo, strict=True)) for combo in itertools.product(*axes)]


CASES = [(k, p) for k in ACTIVATIONS for p in param_sets(ACTIVATION_PARAMS[k])]
CORNERS = [(k, p) for k in ACTIVATIONS for p in corner_sets(k)]


def case_id(case) -> str:
    key, params = case
    return key + "".join(f"-{n}={v}" for n, v in params.items())


def kinks(key: str, params: dict) -> list[float]:
    """Where fn or its derivative is not differentiable (central differences are invalid there)."""
    if key in ("relu", "leaky_relu", "elu", "selu"):
        return [0.0]
    if key == "relu6":
        return [0.0, 6.0]
    if key == "hardtanh":
        return [params["min_val"], params["max_val"]]
    if key == "hardsigmoid":
        return [-3.0, 3.0]
    if key == "softplus":
        return [params["threshold"] / params["beta"]]
    return []


@pytest.mark.parametrize(("key", "params"), CASES, ids=map(case_id, CASES))
def test_grad_matches_central_difference(key, params):
    act = ACTIVATIONS[key](**params)
    z = np.linspace(-8.0, 8.0, 321)
    z = z[np.all([np.abs(z - k) > 1e-3 for k in [*kinks(key, params), 99.0]], axis=0)]
    h = 1e-6
    numeric = (act.fn(z + h) - act.fn(z - h)) / (2 * h)
    np.testing.assert_allclose(act.grad(z), numeric, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("key", "params"), CASES, ids=map(case_id, CASES))
def test_value_and_grad_is_fn_and_grad_bit_for_bit(key, params, dtype):
    # fn and grad are checked against central differences and published values above.
    act = ACTIVATIONS[key](**params)
    z = np.concatenate([np.linspace(-20, 20, 4001), EXTREMES]).astype(dtype).reshape(-1, 2)
    value, slope = value_and_grad(act, z)
    np.testing.assert_array_equal(value, act.fn(z))
    np.testing.assert_array_equal(slope, act.grad(z))
    assert value.dtype == slope.dtype == dtype and value.shape == slope.shape == z.shape


def test_fused_value_and_grad_where_the_derivative_shares_the_work():
    fused = {key for key in ACTIVATIONS if ACTIVATIONS[key]().fn_and_grad is not None}
    assert fused == {"sigmoid", "tanh", "gelu"}


def test_every_parametrised_entry_gets_a_non_default_case():
    for key, specs in ACTIVATION_PARAMS.items():
        assert len(param_sets(specs)) == 1 + len(specs), key


EXTREMES = [-1e6, -1e4, -1e3, -100.0, -1.0, -1e-8, 0.0, 1e-8, 1.0, 100.0, 1e3, 1e4, 1e6]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("key", "params"), CASES + CORNERS, ids=map(case_id, CASES + CORNERS))
def test_extreme_inputs_are_finite_silent_and_keep_dtype(key, params, dtype):
    act = ACTIVATIONS[key](**params)
    big = np.finfo(dtype).max / 10
    z = np.array([-big, *EXTREMES, big], dtype=dtype)
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        y, g = act.fn(z), act.grad(z)
    assert y.dtype == dtype and g.dtype == dtype
    assert y.shape == z.shape and g.shape == z.shape
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(g))


@pytest.mark.parametrize(("key", "params"), CASES, ids=map(case_id, CASES))
def test_numpy_scalar_parameters_keep_float32(key, params):
    # Widgets and links may hand over NumPy float64 scalars; the factory must not upcast with them.
    act = ACTIVATIONS[key](
        **{k: np.float64(v) if isinstance(v, float) else v for k, v in params.items()}
    )
    z = np.linspace(-3, 3, 7, dtype=np.float32)
    assert act.fn(z).dtype == act.grad(z).dtype == np.float32


@pytest.mark.parametrize("key", ACTIVATIONS)
def test_float32_agrees_with_float64(key):
    act = ACTIVATIONS[key](**defaults(ACTIVATION_PARAMS[key]))
    z = np.linspace(-10, 10, 201) + 0.013
    z32 = z.astype(np.float32)
    np.testing.assert_allclose(act.fn(z32), act.fn(z32.astype(np.float64)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        act.grad(z32), act.grad(z32.astype(np.float64)), rtol=1e-4, atol=1e-6
    )


@pytest.mark.parametrize("key", ACTIVATIONS)
def test_any_shape_scalars_and_integers(key):
    act = ACTIVATIONS[key](**defaults(ACTIVATION_PARAMS[key]))
    grid = np.linspace(-3, 3, 12).reshape(3, 4)
    assert act.fn(grid).shape == (3, 4) and act.grad(grid).shape == (3, 4)
    np.testing.assert_array_equal(act.fn(grid)[1], act.fn(grid[1]))
    assert np.shape(act.fn(0.5)) == () and np.shape(act.grad(0.5)) == ()
    half = np.float32(0.5)
    assert np.shape(act.fn(half)) == () and act.grad(half).dtype == np.float32
    columns = grid.astype(np.float32).T  # not contiguous
    np.testing.assert_array_equal(act.fn(columns)[1], act.fn(np.ascontiguousarray(columns[1])))
    ints = np.array([-2, 0, 3])
    assert act.fn(ints).dtype == np.float64
    np.testing.assert_array_equal(act.fn(ints), act.fn(ints.astype(np.float64)))


# Known values. Published ones are quoted; the rest come from the textbook formula via math.
SELU_ALPHA = 1.6732632423543772848170429916717  # torch.nn.SELU docs
SELU_SCALE = 1.0507009873554804934193349852946
KNOWN = [
    ("identity", {}, -2.5, -2.5),
    ("sigmoid", {}, 0.0, 0.5),
    ("sigmoid", {}, 2.0, 1 / (1 + math.exp(-2.0))),
    ("tanh", {}, 0.5, math.tanh(0.5)),
    ("relu", {}, -3.0, 0.0),
    ("relu", {}, 2.0, 2.0),
    ("leaky_relu", {}, -2.0, -0.02),
    ("leaky_relu", {"negative_slope": 0.2}, -3.0, -0.6),
    ("relu6", {}, -1.0, 0.0),
    ("relu6", {}, 3.5, 3.5),
    ("relu6", {}, 7.0, 6.0),
    ("hardtanh", {}, -2.0, -1.0),
    ("hardtanh", {"min_val": -2.0, "max_val": 0.5}, 0.7, 0.5),
    ("hardtanh", {"min_val": -2.0, "max_val": 0.5}, -1.5, -1.5),
    ("hardsigmoid", {}, -4.0, 0.0),
    ("hardsigmoid", {}, 0.0, 0.5),
    ("hardsigmoid", {}, 1.5, 0.75),
    ("hardsigmoid", {}, 3.0, 1.0),
    ("softsign", {}, -3.0, -0.75),
    ("elu", {}, -1.0, math.exp(-1.0) - 1),
    ("elu", {"alpha": 0.5}, -2.0, 0.5 * (math.exp(-2.0) - 1)),
    ("elu", {}, 2.0, 2.0),
    ("selu", {}, 1.0, SELU_SCALE),
    ("selu", {}, -1.0, SELU_SCALE * SELU_ALPHA * (math.exp(-1.0) - 1)),
    ("selu", {}, -1e4, -SELU_SCALE * SELU_ALPHA),
    ("gelu", {}, 1.0, 0.8413447460685429),
    ("gelu", {}, -1.0, -(1 - 0.8413447460685429)),
    ("gelu", {"approximate": "tanh"}, 1.0, 0.8411919906082768),
    ("silu", {}, 1.0, 1 / (1 + math.exp(-1.0))),
    ("silu", {"beta": 0.0}, 3.0, 1.5),
    ("silu", {"beta": 2.0}, 1.0, 1 / (1 + math.exp(-2.0))),
    ("softplus", {}, 0.0, math.log(2.0)),
    ("softplus", {"beta": 2.0}, 1.0, math.log1p(math.exp(2.0)) / 2),
    ("mish", {}, 1.0, 0.8650983882673103),
]


@pytest.mark.parametrize(("key", "params", "z", "expected"), KNOWN)
def test_known_values(key, params, z, expected):
    assert float(ACTIVATIONS[key](**params).fn(np.float64(z))) == pytest.approx(
        expected, rel=1e-15, abs=1e-300
    )


KNOWN_GRADS = [  # one-sided values at kinks, as torch's backward returns them
    ("relu", {}, 0.0, 0.0),
    ("leaky_relu", {"negative_slope": 0.2}, 0.0, 0.2),
    ("elu", {"alpha": 0.5}, 0.0, 0.5),
    ("relu6", {}, 6.0, 0.0),
    ("hardtanh", {}, -1.0, 0.0),
    ("hardsigmoid", {}, 0.0, 1 / 6),
    ("hardsigmoid", {}, 3.0, 0.0),
    ("sigmoid", {}, 0.0, 0.25),
    ("gelu", {}, 0.0, 0.5),
]


@pytest.mark.parametrize(("key", "params", "z", "expected"), KNOWN_GRADS)
def test_known_grads(key, params, z, expected):
    assert float(ACTIVATIONS[key](**params).grad(np.float64(z))) == pytest.approx(expected)


def test_sigmoid_matches_scipy_expit():
    z = np.linspace(-700, 700, 2801)  # below −708 the results are subnormal and scipy flushes them
    np.testing.assert_allclose(ACTIVATIONS["sigmoid"]().fn(z), expit(z), rtol=1e-14, atol=0)


def test_exact_gelu_matches_scipy_ndtr_including_negative_tail():
    z = np.linspace(-37, 37, 20001)
    # Relative tolerance also in the far negative tail, where GELU is a tiny negative number.
    np.testing.assert_allclose(ACTIVATIONS["gelu"]().fn(z), z * ndtr(z), rtol=1e-12, atol=0)
    pdf = np.exp(-(z**2) / 2) / math.sqrt(2 * math.pi)
    np.testing.assert_allclose(
        ACTIVATIONS["gelu"]().grad(z), ndtr(z) + z * pdf, rtol=1e-12, atol=1e-300
    )


def _ulps(got: np.ndarray, exact: np.ndarray) -> np.ndarray:
    """|got − exact| in units of the float32 spacing at ``exact`` (subnormal spacing at least)."""
    spacing = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
    return np.abs(got.astype(np.float64) - exact) / np.maximum(spacing, 2.0**-149)


def test_exact_gelu_float32_path_matches_the_float64_series_including_tails():
    # float32 inputs take a float32 erfc fit; the float64 series (checked against scipy above) is
    # the reference. Measured on this grid: fn 10.3 ulps, f' 2.3e-7 absolute and 12.1 ulps in the
    # negative tail; the bounds leave room for another CPU's float32 exp.
    z = np.linspace(-16, 16, 320_001, dtype=np.float32)
    z = np.concatenate([z, np.float32([-3e38, -1e6, -40, -12.9, -1e-30, 0, 1e-30, 1e6, 3e38])])
    gelu = ACTIVATIONS["gelu"]()
    exact_fn, exact_grad = gelu.fn(z.astype(np.float64)), gelu.grad(z.astype(np.float64))
    fn, grad = gelu.fn(z), gelu.grad(z)
    assert fn.dtype == grad.dtype == np.float32
    assert _ulps(fn, exact_fn).max() <= 12  # relative, so also the tiny negative tail
    # f' = Φ + z·φ cancels between z = −2 and 0, so its error is stated on the scale of f' (~1).
    assert np.abs(grad - exact_grad).max() <= 3e-7
    tail = z < -3
    assert _ulps(grad[tail], exact_grad[tail]).max() <= 14


def test_tanh_gelu_is_close_to_exact_gelu():
    z = np.linspace(-6, 6, 121)
    diff = ACTIVATIONS["gelu"](approximate="tanh").fn(z) - ACTIVATIONS["gelu"]().fn(z)
    assert 1e-5 < np.max(np.abs(diff)) < 1e-3  # an approximation: close, but not identical


def test_softplus_threshold_switches_to_identity_exactly_like_torch():
    sp = ACTIVATIONS["softplus"]()
    assert sp.fn(np.float64(20.5)) == 20.5  # beta·z > threshold: returns z itself
    below = float(sp.fn(np.float64(19.5)))
    assert below == pytest.approx(math.log1p(math.exp(19.5)), rel=1e-15) and below != 19.5
    sp2 = ACTIVATIONS["softplus"](beta=2.0, threshold=5.0)
    assert sp2.fn(np.float64(2.6)) == 2.6 and sp2.grad(np.float64(2.6)) == 1.0
    assert float(sp2.fn(np.float64(2.4))) == pytest.approx(math.log1p(math.exp(4.8)) / 2)
    assert float(sp2.grad(np.float64(2.4))) == pytest.approx(1 / (1 + math.exp(-4.8)))


def test_softplus_matches_naive_formula_where_that_is_safe():
    z = np.linspace(-30, 19, 500)
    np.testing.assert_allclose(ACTIVATIONS["softplus"]().fn(z), np.log1p(np.exp(z)), rtol=1e-14)


def test_relu6_clips_to_zero_and_six():
    z = np.array([-5.0, 0.0, 2.5, 6.0, 9.0])
    np.testing.assert_array_equal(ACTIVATIONS["relu6"]().fn(z), [0.0, 0.0, 2.5, 6.0, 6.0])


def test_saturating_limits_at_huge_inputs():
    z = np.array([-1e6, 1e6])
    np.testing.assert_array_equal(ACTIVATIONS["sigmoid"]().fn(z), [0.0, 1.0])
    np.testing.assert_array_equal(ACTIVATIONS["tanh"]().fn(z), [-1.0, 1.0])
    for key in ("gelu", "silu", "mish", "softplus"):
        np.testing.assert_array_equal(ACTIVATIONS[key]().fn(z), [0.0, 1e6], err_msg=key)
        np.testing.assert_array_equal(ACTIVATIONS[key]().grad(z), [0.0, 1.0], err_msg=key)
    np.testing.assert_array_equal(ACTIVATIONS["gelu"]("tanh").fn(z), [0.0, 1e6])


INVALID = [
    ("softplus", {"beta": 0.0}, "beta=0.0"),
    ("softplus", {"beta": -1.0}, "beta=-1.0"),
    ("softplus", {"threshold": math.inf}, "threshold=inf"),
    ("hardtanh", {"min_val": 1.0, "max_val": 1.0}, "min_val=1.0"),
    ("hardtanh", {"min_val": 2.0, "max_val": -2.0}, "max_val=-2.0"),
    ("elu", {"alpha": -0.5}, "alpha=-0.5"),
    ("silu", {"beta": -1.0}, "beta=-1.0"),
    ("leaky_relu", {"negative_slope": math.nan}, "negative_slope=nan"),
    ("gelu", {"approximate": "erf"}, "approximate='erf'"),
]


@pytest.mark.parametrize(("key", "params", "quoted"), INVALID)
def test_invalid_parameters_raise_value_error_quoting_the_value(key, params, quoted):
    with pytest.raises(ValueError, match=quoted):
        ACTIVATIONS[key](**params)


def test_registry_keys_and_order():
    assert list(ACTIVATIONS) == KEYS
    assert list(ACTIVATION_PARAMS) == KEYS
    assert list(TORCH_NAMES) == KEYS


@pytest.mark.parametrize("key", ACTIVATIONS)
def test_metadata_matches_factory_signature(key):
    signature = inspect.signature(ACTIVATIONS[key]).parameters
    specs = ACTIVATION_PARAMS[key]
    assert list(specs) == list(signature)
    for name, spec in specs.items():
        assert spec.default == signature[name].default, name
        if spec.kind == "choice":
            assert spec.default in spec.options, name
        else:
            assert spec.low <= spec.default <= spec.high and spec.step > 0, name


@pytest.mark.parametrize("key", ACTIVATIONS)
def test_torch_name_template_formats_with_the_parameters(key):
    text = TORCH_NAMES[key].format(**defaults(ACTIVATION_PARAMS[key]))
    assert text.startswith("torch.nn.") and "{" not in text
    for name, value in defaults(ACTIVATION_PARAMS[key]).items():
        if key != "silu":  # torch's SiLU has no beta: Swish with beta = 1
            assert f"{name}=" in text and str(value) in text


def test_torch_name_examples():
    assert (
        TORCH_NAMES["leaky_relu"].format(negative_slope=0.2)
        == "torch.nn.LeakyReLU(negative_slope=0.2)"
    )
    assert TORCH_NAMES["gelu"].format(approximate="tanh") == "torch.nn.GELU(approximate='tanh')"


@pytest.mark.parametrize(
    ("key", "kwargs", "param", "rule"),
    [
        ("hardtanh", {"min_val": 1.0, "max_val": 0.5}, "min_val", "lt_max_val"),
        ("elu", {"alpha": -1.0}, "alpha", "ge_0"),
        ("softplus", {"beta": 0.0}, "beta", "gt_0"),
        ("softplus", {"threshold": np.inf}, "threshold", "finite"),
        ("leaky_relu", {"negative_slope": np.nan}, "negative_slope", "finite"),
        ("silu", {"beta": np.nan}, "beta", "ge_0"),  # NaN breaks every rule
    ],
)
def test_a_refused_parameter_is_named_with_its_rule(key, kwargs, param, rule):
    with pytest.raises(ParamError) as raised:
        ACTIVATIONS[key](**kwargs)
    assert (raised.value.param, raised.value.rule) == (param, rule)
