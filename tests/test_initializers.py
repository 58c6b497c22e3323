"""Initializers: empirical moments and bounds vs torch.nn.init formulas; gains vs torch's table."""

import math

import numpy as np
import pytest
from scipy import stats

from core.initializers import (
    INITIALIZER_INFO,
    INITIALIZERS,
    NONLINEARITIES,
    calculate_gain,
    conv_fans,
    conv_weight,
    default_kwargs,
    init_std,
    torch_call,
)
from core.params import ParamError

FAN_IN, FAN_OUT = 1000, 800  # unequal so a swapped fan_in/fan_out changes the expected numbers


@pytest.fixture(scope="module")
def big():
    """One large draw per (name, kwargs) shared by the tests below."""
    cache = {}

    def draw(name, **kw):
        key = (name, tuple(sorted(kw.items())))
        if key not in cache:
            cache[key] = INITIALIZERS[name](np.random.default_rng(1), FAN_IN, FAN_OUT, **kw)
        return cache[key]

    return draw


def test_registry_and_info_agree():
    assert set(INITIALIZERS) == set(INITIALIZER_INFO)


@pytest.mark.parametrize("name", list(INITIALIZERS))
def test_shape_dtype_and_determinism(name):
    kw = default_kwargs(name)
    w1 = INITIALIZERS[name](np.random.default_rng(7), 5, 3, **kw)
    w2 = INITIALIZERS[name](np.random.default_rng(7), 5, 3, **kw)
    assert w1.shape == (5, 3) and w1.dtype == np.float32
    np.testing.assert_array_equal(w1, w2)
    w64 = INITIALIZERS[name](np.random.default_rng(7), 5, 3, dtype=np.float64, **kw)
    assert w64.dtype == np.float64


DETERMINISTIC = ("zeros", "ones", "constant", "eye")


@pytest.mark.parametrize("name", [n for n in INITIALIZERS if n not in DETERMINISTIC])
def test_different_seeds_differ(name):
    kw = default_kwargs(name)
    # 20 x 20: sparse's default sparsity 0.9 zeroes every weight of a 4-wide layer (as torch)
    w1 = INITIALIZERS[name](np.random.default_rng(1), 20, 20, **kw)
    w2 = INITIALIZERS[name](np.random.default_rng(2), 20, 20, **kw)
    assert not np.array_equal(w1, w2)


# (name, kwargs, expected std written out from the torch.nn.init docs, uniform bound or None)
_G_TANH = 5.0 / 3.0
CASES = [
    ("uniform", {"a": -0.5, "b": 1.5}, 2.0 / math.sqrt(12.0), (-0.5, 1.5)),
    ("normal", {"mean": 0.2, "std": 0.7}, 0.7, None),
    ("xavier_uniform", {}, math.sqrt(2 / (FAN_IN + FAN_OUT)), math.sqrt(6 / (FAN_IN + FAN_OUT))),
    ("xavier_uniform", {"gain": 2.0}, 2 * math.sqrt(2 / 1800), 2 * math.sqrt(6 / 1800)),
    ("xavier_normal", {"gain": _G_TANH}, _G_TANH * math.sqrt(2 / 1800), None),
    # torch defaults a=0, nonlinearity='leaky_relu' give gain sqrt(2/(1+0)) = sqrt(2)
    ("kaiming_uniform", {}, math.sqrt(2 / FAN_IN), math.sqrt(6 / FAN_IN)),
    ("kaiming_uniform", {"a": math.sqrt(5)}, math.sqrt(1 / 3 / FAN_IN), 1 / math.sqrt(FAN_IN)),
    ("kaiming_normal", {"nonlinearity": "relu"}, math.sqrt(2 / FAN_IN), None),
    (
        "kaiming_normal",
        {"mode": "fan_out", "nonlinearity": "tanh"},
        _G_TANH / math.sqrt(FAN_OUT),
        None,
    ),
    ("kaiming_normal", {"a": 0.2}, math.sqrt(2 / 1.04 / FAN_IN), None),
    ("lecun_normal", {}, 1 / math.sqrt(FAN_IN), None),
    ("orthogonal", {"gain": 1.5}, 1.5 / math.sqrt(FAN_IN), None),
    # sparse_: N(0, std²), then ceil(0.9 · 800) = 720 of each input's 800 weights zeroed
    ("sparse", {"sparsity": 0.9, "std": 0.01}, 0.01 * math.sqrt(80 / 800), None),
    ("sparse", {"sparsity": 0.0, "std": 0.3}, 0.3, None),
    # eye_: 800 ones among 1000 · 800 entries, std sqrt(p(1 - p)) with p = 1/1000
    ("eye", {}, math.sqrt(1e-3 * (1 - 1e-3)), None),
]


@pytest.mark.parametrize(("name", "kw", "std", "bound"), CASES)
def test_empirical_std_matches_formula(big, name, kw, std, bound):
    w = big(name, **kw)
    assert w.std() == pytest.approx(std, rel=0.02)
    assert init_std(name, FAN_IN, FAN_OUT, **kw) == pytest.approx(std, rel=1e-12)
    if bound is not None:
        low, high = (-bound, bound) if np.isscalar(bound) else bound
        assert low <= w.min() and w.max() <= high
        # 800k draws come within 0.1 % of each end of the interval
        assert w.min() < low + 1e-3 * (high - low) and w.max() > high - 1e-3 * (high - low)


@pytest.mark.parametrize(
    ("name", "kw"),
    [("normal", {"mean": 0.2, "std": 0.7}), ("kaiming_normal", {}), ("lecun_normal", {})],
)
def test_normal_draws_have_the_normal_shape_tails_included(big, name, kw):
    w = big(name, **kw).astype(np.float64).ravel()
    ref = stats.norm(kw.get("mean", 0.0), init_std(name, FAN_IN, FAN_OUT, **kw))
    assert stats.kstest(w, ref.cdf).pvalue > 1e-3
    # The counts of draws past 3, 3.65 (where NumPy's float32 ziggurat switches to its tail
    # method) and 4 std are Poisson around the normal's tail mass.
    for k in (3.0, 3.65, 4.0):
        count = np.sum(np.abs(w - ref.mean()) > k * ref.std())
        tail = stats.poisson(2 * stats.norm.sf(k) * w.size)
        assert min(tail.cdf(count), tail.sf(count - 1)) > 1e-4, (k, count, tail.mean())


@pytest.mark.parametrize(
    ("name", "kw", "low", "high"),
    [
        ("uniform", {"a": -0.5, "b": 1.5}, -0.5, 1.5),
        ("kaiming_uniform", {}, -math.sqrt(6 / FAN_IN), math.sqrt(6 / FAN_IN)),
    ],
)
def test_uniform_draws_have_the_uniform_shape(big, name, kw, low, high):
    w = big(name, **kw).astype(np.float64).ravel()
    assert stats.kstest(w, stats.uniform(low, high - low).cdf).pvalue > 1e-3
    # 50 equal bins: counts are multinomial around w.size / 50
    counts = np.histogram(w, bins=50, range=(low, high))[0]
    assert stats.chisquare(counts).pvalue > 1e-3


@pytest.mark.parametrize("bit_generator", [np.random.PCG64, np.random.MT19937])
def test_float32_draws_from_any_bit_generator(bit_generator):
    rng = np.random.Generator(bit_generator(5))
    w = INITIALIZERS["normal"](rng, 500, 401).astype(np.float64).ravel()  # odd count
    assert stats.kstest(w, "norm").pvalue > 1e-3
    assert abs(w.mean()) < 5 / w.size**0.5
    u = INITIALIZERS["uniform"](rng, 500, 401).astype(np.float64).ravel()
    assert stats.kstest(u, "uniform").pvalue > 1e-3


def test_uniform_symmetric_ones_are_centred(big):
    for name in ("xavier_uniform", "kaiming_uniform", "xavier_normal", "kaiming_normal"):
        w = big(name)
        assert abs(w.mean()) < 0.02 * w.std()


@pytest.mark.parametrize(
    "kw",
    [
        {},  # torch defaults: mean 0, std 1, a=-2, b=2
        {"mean": 0.3, "std": 1.5, "a": -1.0, "b": 2.5},
        {"std": 5.0, "a": -0.1, "b": 0.1},  # narrow window: uniform-proposal branch
        {"std": 1.0, "a": 3.0, "b": 6.0},  # far tail
    ],
)
def test_trunc_normal_moments_and_bounds(big, kw):
    w = big("trunc_normal", **kw).astype(np.float64)
    p = {"mean": 0.0, "std": 1.0, "a": -2.0, "b": 2.0, **kw}
    ref = stats.truncnorm(
        (p["a"] - p["mean"]) / p["std"], (p["b"] - p["mean"]) / p["std"], p["mean"], p["std"]
    )
    assert p["a"] <= w.min() and w.max() <= p["b"]
    assert w.std() == pytest.approx(ref.std(), rel=0.02)
    assert w.mean() == pytest.approx(ref.mean(), abs=0.01 * ref.std())
    assert init_std("trunc_normal", 1, 1, **kw) == pytest.approx(ref.std(), rel=1e-9)
    # shape of the distribution, not only two moments
    assert stats.kstest(w.ravel()[:20000], ref.cdf).pvalue > 1e-3


def test_trunc_normal_matches_torch_sample_moments(big):
    # torch 2.13.0: torch.manual_seed(0); trunc_normal_(torch.empty(1000, 1000), mean=0.3,
    # std=1.5, a=-1., b=2.5) gave std 0.91292 and mean 0.58060.
    w = big("trunc_normal", mean=0.3, std=1.5, a=-1.0, b=2.5)
    assert w.std() == pytest.approx(0.91292, rel=0.01)
    assert w.mean() == pytest.approx(0.58060, abs=0.01)


@pytest.mark.parametrize(("fan_in", "fan_out"), [(300, 120), (120, 300), (64, 64)])
def test_orthogonal(fan_in, fan_out):
    w = INITIALIZERS["orthogonal"](np.random.default_rng(3), fan_in, fan_out, gain=2.0)
    w = w.astype(np.float64)
    gram = w.T @ w if fan_in >= fan_out else w @ w.T
    np.testing.assert_allclose(gram, 4.0 * np.eye(min(fan_in, fan_out)), atol=1e-5)


def test_zeros_ones_constant_and_eye():
    rng = np.random.default_rng(0)
    assert not INITIALIZERS["zeros"](rng, 3, 4).any()
    np.testing.assert_array_equal(INITIALIZERS["ones"](rng, 3, 4), np.ones((3, 4)))
    # torch's eye_ on its (out, in) = (4, 3) weight puts ones at [i, i]; our W is its transpose.
    torch_weight = [[1.0 if i == j else 0.0 for j in range(3)] for i in range(4)]
    np.testing.assert_array_equal(INITIALIZERS["eye"](rng, 3, 4), np.array(torch_weight).T)
    x = np.arange(3.0)
    np.testing.assert_array_equal(x @ INITIALIZERS["eye"](rng, 3, 4), [0.0, 1.0, 2.0, 0.0])
    np.testing.assert_array_equal(
        INITIALIZERS["constant"](rng, 3, 4, val=0.25), np.full((3, 4), 0.25)
    )


# torch 2.13.0, torch.nn.init.calculate_gain(name, param), printed with repr()
TORCH_GAINS = [
    ("linear", None, 1.0),
    ("conv1d", None, 1.0),
    ("conv2d", None, 1.0),
    ("conv_transpose3d", None, 1.0),
    ("sigmoid", None, 1.0),
    ("tanh", None, 1.6666666666666667),
    ("relu", None, 1.4142135623730951),
    ("selu", None, 0.75),
    ("leaky_relu", None, 1.4141428569978354),
    ("leaky_relu", 0, 1.4142135623730951),
    ("leaky_relu", 0.2, 1.3867504905630728),
    ("leaky_relu", 1, 1.0),
]


@pytest.mark.parametrize(("name", "param", "gain"), TORCH_GAINS)
def test_calculate_gain_matches_torch(name, param, gain):
    assert calculate_gain(name, param) == pytest.approx(gain, rel=1e-15)


def test_calculate_gain_table_covers_all_nonlinearities():
    assert {row[0] for row in TORCH_GAINS} | {
        "conv3d",
        "conv_transpose1d",
        "conv_transpose2d",
    } == set(NONLINEARITIES)


@pytest.mark.parametrize(
    ("name", "param"), [("softmax", None), ("leaky_relu", True), ("leaky_relu", "x")]
)
def test_calculate_gain_rejects(name, param):
    with pytest.raises(ValueError, match="="):
        calculate_gain(name, param)


@pytest.mark.parametrize(
    ("name", "kw"),
    [
        ("uniform", {"a": 1.0, "b": 0.0}),
        ("normal", {"std": -1.0}),
        ("trunc_normal", {"a": 1.0, "b": 1.0}),
        ("kaiming_normal", {"mode": "fan_avg"}),
    ],
)
def test_invalid_arguments_raise(name, kw):
    with pytest.raises(ValueError, match="="):
        INITIALIZERS[name](np.random.default_rng(0), 3, 3, **kw)


@pytest.mark.parametrize("name", list(INITIALIZERS))
def test_info_defaults_are_accepted_and_torch_call_formats(name):
    info = INITIALIZER_INFO[name]
    for spec in info.params.values():
        if spec.kind == "choice":
            assert spec.default in spec.options
        else:
            assert spec.kind == "float" and spec.low <= spec.default <= spec.high
    call = torch_call(name)
    assert call.startswith("torch.nn.init.") and "{" not in call
    assert torch_call("kaiming_normal", nonlinearity="relu").endswith("nonlinearity='relu')")


@pytest.mark.parametrize(("name", "rule"), [("uniform", "a_le_b"), ("trunc_normal", "a_lt_b")])
def test_crossed_bounds_name_the_rule_and_the_values(name, rule):
    with pytest.raises(ParamError) as raised:
        INITIALIZERS[name](np.random.default_rng(0), 3, 3, a=1.0, b=-1.0)
    assert (raised.value.param, raised.value.rule) == ("b", rule)
    assert raised.value.values == {"a": 1.0, "b": -1.0}


@pytest.mark.parametrize(
    ("fan_in", "fan_out", "sparsity"), [(50, 40, 0.9), (7, 3, 0.5), (4, 6, 1.0)]
)
def test_sparse_zeroes_a_fraction_of_every_inputs_weights_like_torch(fan_in, fan_out, sparsity):
    # torch.nn.init.sparse_ zeroes ceil(sparsity · rows) random entries of every column of its
    # (out, in) weight: every row of our (in, out) W, each with its own random positions.
    w = INITIALIZERS["sparse"](np.random.default_rng(3), fan_in, fan_out, sparsity=sparsity)
    zeros_per_input = (w == 0).sum(axis=1)
    assert np.all(zeros_per_input == math.ceil(sparsity * fan_out))
    if 0 < sparsity < 1:
        assert len({tuple(np.flatnonzero(row == 0)) for row in w}) > 1  # not one shared pattern
    with pytest.raises(ValueError, match="sparsity"):
        INITIALIZERS["sparse"](np.random.default_rng(3), 3, 3, sparsity=1.5)


# ------------------------------------------------------------------------------ conv weights


def torch_conv_fans(shape):
    """torch.nn.init._calculate_fan_in_and_fan_out for a weight of ``shape`` (out, in, *kernel)."""
    receptive_field = math.prod(shape[2:])
    return shape[1] * receptive_field, shape[0] * receptive_field


@pytest.mark.parametrize(("out_c", "in_c", "k"), [(8, 1, 5), (16, 8, 5), (3, 7, 1), (5, 2, 3)])
def test_conv_fans_are_torchs(out_c, in_c, k):
    assert conv_fans(out_c, in_c, k) == torch_conv_fans((out_c, in_c, k, k))
    assert conv_fans(16, 8, 5) == (200, 400)


# 64 × 32 × 5 × 5 = 51,200 draws: the std is known to ~0.3 %; fans (800, 1600) are unequal
CONV = (64, 32, 5)


@pytest.mark.parametrize(
    ("name", "kw"),
    [
        ("kaiming_uniform", {}),
        ("kaiming_normal", {"nonlinearity": "relu"}),
        ("kaiming_normal", {"mode": "fan_out"}),
        ("xavier_uniform", {}),
        ("xavier_normal", {"gain": 2.0}),
        ("lecun_normal", {}),
        ("uniform", {"a": -0.5, "b": 1.5}),
    ],
)
def test_conv_weight_std_uses_the_conv_fans(name, kw):
    w = conv_weight(name, np.random.default_rng(4), *CONV, **kw)
    assert w.shape == (64, 32, 5, 5) and w.dtype == np.float32
    fan_in, fan_out = torch_conv_fans(w.shape)
    assert w.std() == pytest.approx(init_std(name, fan_in, fan_out, **kw), rel=0.02)
    again = conv_weight(name, np.random.default_rng(4), *CONV, dtype=np.float64, **kw)
    assert again.dtype == np.float64


def test_conv_weight_kaiming_uniform_bound_is_torchs():
    # torch's Conv2d(32, 64, 5) weight under kaiming_uniform_(w): bound = sqrt(6 / (32 · 25))
    w = conv_weight("kaiming_uniform", np.random.default_rng(5), *CONV)
    bound = math.sqrt(6 / 800)
    assert -bound <= w.min() < -0.99 * bound and 0.99 * bound < w.max() <= bound


@pytest.mark.parametrize(("out_c", "in_c", "k"), [(8, 4, 3), (40, 1, 3)])
def test_conv_weight_orthogonal_flattens_like_torch(out_c, in_c, k):
    # torch's orthogonal_ on a conv weight: the matrix (out, in·k·k), orthonormal rows if wide,
    # orthonormal columns if tall, times gain.
    w = conv_weight("orthogonal", np.random.default_rng(6), out_c, in_c, k, gain=1.5)
    m = w.reshape(out_c, -1).astype(np.float64)
    gram = m @ m.T if m.shape[0] <= m.shape[1] else m.T @ m
    np.testing.assert_allclose(gram, 1.5**2 * np.eye(min(m.shape)), atol=1e-5)


@pytest.mark.parametrize("name", ["eye", "sparse"])
def test_conv_weight_refuses_matrix_only_initializers(name):
    with pytest.raises(ValueError, match=name):
        conv_weight(name, np.random.default_rng(0), 4, 2, 3)
    with pytest.raises(ValueError, match="Unknown"):
        conv_weight("dirac", np.random.default_rng(0), 4, 2, 3)


@pytest.mark.parametrize("name", [n for n in INITIALIZERS if n not in ("eye", "sparse")])
def test_every_other_initializer_draws_a_conv_weight(name):
    w = conv_weight(name, np.random.default_rng(7), 6, 3, 3, **default_kwargs(name))
    assert w.shape == (6, 3, 3, 3) and w.dtype == np.float32
