"""Weight initializers with ``torch.nn.init`` names, defaults and formulas.

Every entry of ``INITIALIZERS`` is called as ``INITIALIZERS[name](rng, fan_in, fan_out, **kw)`` and
returns a new array ``W`` of shape ``(fan_in, fan_out)`` (dtype ``float32`` unless ``dtype=`` says
otherwise), used as ``x @ W``. That is the transpose of torch's ``Linear.weight`` (shape
``(out_features, in_features)``), so torch's ``fan_in = weight.shape[1]`` is our ``W.shape[0]``;
taking ``(fan_in, fan_out)`` instead of a shape keeps the transpose from sneaking in. Nothing is
mutated, so the trailing in-place underscore of torch's names is dropped. Every entry but ``eye``
and ``sparse`` also takes ``shape=`` to draw another array with the same fans' distribution;
``conv_weight`` uses it for torch's ``(out_channels, in_channels, kH, kW)`` conv weights and their
fans (``conv_fans``).

``calculate_gain`` reproduces torch's gain table. ``INITIALIZER_INFO`` is data for the UI: parameter
ranges, a torch call template and the kind of distribution; ``init_std`` gives the theoretical std.
References: Glorot & Bengio 2010 (xavier), He et al. 2015 (kaiming), Saxe et al. 2014
(orthogonal), LeCun et al. 1998 "Efficient BackProp" and Klambauer et al. 2017 "Self-Normalizing
Networks" (lecun).
"""

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from core.params import Param, ParamError

Initializer = Callable[..., np.ndarray]

_GAINS_CONSTANT = {
    "linear": 1.0,
    "conv1d": 1.0,
    "conv2d": 1.0,
    "conv3d": 1.0,
    "conv_transpose1d": 1.0,
    "conv_transpose2d": 1.0,
    "conv_transpose3d": 1.0,
    "sigmoid": 1.0,
    "tanh": 5.0 / 3.0,
    "relu": math.sqrt(2.0),
    "selu": 3.0
    / 4.0,  # torch's choice (not SELU's own 1.0) so that the variance stays ~1 in practice
}
NONLINEARITIES = (*_GAINS_CONSTANT, "leaky_relu")


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """Recommended gain for a nonlinearity, exactly as ``torch.nn.init.calculate_gain``."""
    if nonlinearity in _GAINS_CONSTANT:
        return _GAINS_CONSTANT[nonlinearity]
    if nonlinearity == "leaky_relu":
        # torch: param None -> the default slope 0.01; bool is rejected although it is an int.
        if param is None:
            slope = 0.01
        elif isinstance(param, bool) or not isinstance(param, int | float):
            raise ValueError(f"negative_slope {param=} is not a valid number")
        else:
            slope = float(param)
        return math.sqrt(2.0 / (1.0 + slope**2))
    raise ValueError(f"Unsupported {nonlinearity=}")


def _check_fans(fan_in: int, fan_out: int) -> None:
    if int(fan_in) < 1 or int(fan_out) < 1:
        raise ValueError(f"fans must be positive, got {fan_in=}, {fan_out=}")


def _shape(fan_in: int, fan_out: int, shape: tuple[int, ...] | None) -> tuple[int, ...]:
    """The array to draw: ``(fan_in, fan_out)``, or a conv weight's ``shape`` (``conv_weight``)."""
    _check_fans(fan_in, fan_out)
    return (fan_in, fan_out) if shape is None else tuple(shape)


def _fan(fan_in: int, fan_out: int, mode: str) -> int:
    if mode == "fan_in":
        return fan_in
    if mode == "fan_out":
        return fan_out
    raise ValueError(f"{mode=} must be 'fan_in' or 'fan_out'")


def _uniform(rng, shape, low, high, dtype) -> np.ndarray:
    return rng.uniform(low, high, size=shape).astype(dtype, copy=False)


def _normal(rng, shape, mean, std, dtype) -> np.ndarray:
    # Drawing float32 directly, scaled in place, is ~3x faster than casting float64 draws (this
    # matters for a 50 × 512 × 512 network drawn whenever the initialization page's setup changes).
    if np.dtype(dtype) == np.float32:
        w = rng.standard_normal(shape, dtype=np.float32)
        w *= np.float32(std)
        w += np.float32(mean)
        return w
    return (rng.standard_normal(shape) * std + mean).astype(dtype, copy=False)


def zeros(
    rng: np.random.Generator, fan_in: int, fan_out: int, *, shape=None, dtype=np.float32
) -> np.ndarray:
    """All zeros (``torch.nn.init.zeros_``); ``rng`` is unused but kept for a uniform signature."""
    return np.zeros(_shape(fan_in, fan_out, shape), dtype=dtype)


def constant(
    rng: np.random.Generator,
    fan_in: int,
    fan_out: int,
    *,
    val: float,
    shape=None,
    dtype=np.float32,
) -> np.ndarray:
    """Every weight equal to ``val`` (``torch.nn.init.constant_``)."""
    return np.full(_shape(fan_in, fan_out, shape), val, dtype=dtype)


def ones(
    rng: np.random.Generator, fan_in: int, fan_out: int, *, shape=None, dtype=np.float32
) -> np.ndarray:
    """All ones (``torch.nn.init.ones_``); ``rng`` is unused but kept for a uniform signature."""
    return np.ones(_shape(fan_in, fan_out, shape), dtype=dtype)


def eye(rng: np.random.Generator, fan_in: int, fan_out: int, *, dtype=np.float32) -> np.ndarray:
    """The identity, ones at W[i, i] (``torch.nn.init.eye_``): a layer that passes its first
    min(fan_in, fan_out) inputs through unchanged. Symmetric under our transpose of torch's."""
    _check_fans(fan_in, fan_out)
    return np.eye(fan_in, fan_out, dtype=dtype)


def sparse(
    rng: np.random.Generator,
    fan_in: int,
    fan_out: int,
    *,
    sparsity: float,
    std: float = 0.01,
    dtype=np.float32,
) -> np.ndarray:
    """N(0, std²) with a fraction ``sparsity`` of every input's weights set to zero (Martens
    2010's sparse init, as ``torch.nn.init.sparse_``): torch zeroes ceil(sparsity·rows) random
    entries of each column of its (out, in) weight, which is each row of our (in, out) W."""
    _check_fans(fan_in, fan_out)
    if not 0.0 <= sparsity <= 1.0:
        raise ValueError(f"sparsity must be in [0, 1], got {sparsity=}")
    w = _normal(rng, (fan_in, fan_out), 0.0, std, dtype)
    zeros_per_row = math.ceil(sparsity * fan_out)
    # A random permutation per row, as torch's randperm per column; its first entries are zeroed.
    order = np.argsort(rng.random((fan_in, fan_out)), axis=1)
    np.put_along_axis(w, order[:, :zeros_per_row], 0, axis=1)
    return w


def uniform(
    rng: np.random.Generator,
    fan_in: int,
    fan_out: int,
    *,
    a: float = 0.0,
    b: float = 1.0,
    shape=None,
    dtype=np.float32,
) -> np.ndarray:
    """U(a, b) (``torch.nn.init.uniform_``)."""
    shape = _shape(fan_in, fan_out, shape)
    if not a <= b:
        raise ParamError("b", "a_le_b", f"need a <= b, got {a=}, {b=}", a=a, b=b)
    return _uniform(rng, shape, a, b, dtype)


def normal(
    rng: np.random.Generator,
    fan_in: int,
    fan_out: int,
    *,
    mean: float = 0.0,
    std: float = 1.0,
    shape=None,
    dtype=np.float32,
) -> np.ndarray:
    """N(mean, std²) (``torch.nn.init.normal_``)."""
    shape = _shape(fan_in, fan_out, shape)
    if std < 0:
        raise ValueError(f"{std=} must be >= 0")
    return _normal(rng, shape, mean, std, dtype)


def _phi(t: float) -> float:
    return 0.5 * (1.0 + math.erf(t / math.sqrt(2.0)))


def trunc_normal(
    rng: np.random.Generator,
    fan_in: int,
    fan_out: int,
    *,
    mean: float = 0.0,
    std: float = 1.0,
    a: float = -2.0,
    b: float = 2.0,
    shape=None,
    dtype=np.float32,
) -> np.ndarray:
    """N(mean, std²) restricted to [a, b] (``torch.nn.init.trunc_normal_``; a, b are absolute).

    As in torch, ``std`` is the std *before* truncation, so the result's std is smaller. Sampled by
    rejection (exact, unlike clipping), from whichever proposal accepts more often: the normal
    itself, or a uniform on [a, b] (better when [a, b] is narrow compared with ``std``).
    """
    shape = _shape(fan_in, fan_out, shape)
    if not std > 0:
        raise ValueError(f"{std=} must be > 0")
    if not a < b:
        raise ParamError("b", "a_lt_b", f"need a < b, got {a=}, {b=}", a=a, b=b)
    n = math.prod(shape)
    alpha, beta = (a - mean) / std, (b - mean) / std
    mass = _phi(beta) - _phi(alpha)
    closest = min(
        max(0.0, alpha), beta
    )  # the point of [alpha, beta] nearest the mode, in std units
    # Acceptance rate of the uniform proposal: mass / ((beta - alpha) · pdf(closest) · sqrt(2π)).
    accept_uniform = mass * math.sqrt(2 * math.pi) / ((beta - alpha) * math.exp(-0.5 * closest**2))
    out = np.empty(n)
    filled = 0
    while filled < n:
        need = n - filled
        rate = max(mass, accept_uniform, 1e-12)
        size = min(int(need / rate * 1.1) + 16, 10_000_000)
        if mass >= accept_uniform:
            t = rng.standard_normal(size)
            t = t[(t >= alpha) & (t <= beta)]
        else:
            t = rng.uniform(alpha, beta, size)
            keep = rng.random(size) < np.exp(-0.5 * (t**2 - closest**2))
            t = t[keep]
        take = min(need, t.size)
        out[filled : filled + take] = t[:take]
        filled += take
    # Clip guards the cast to float32 rounding a value just outside [a, b], as torch's clamp_ does.
    return np.clip(out * std + mean, a, b).reshape(shape).astype(dtype, copy=False)


def xavier_uniform(
    rng: np.random.Generator,
    fan_in: int,
    fan_out: int,
    *,
    gain: float = 1.0,
    shape=None,
    dtype=np.float32,
) -> np.ndarray:
    """U(−bound, bound), bound = gain·sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio 2010)."""
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return _uniform(rng, _shape(fan_in, fan_out, shape), -bound, bound, dtype)


def xavier_normal(
    rng: np.random.Generator,
    fan_in: int,
    fan_out: int,
    *,
    gain: float = 1.0,
    shape=None,
    dtype=np.float32,
) -> np.ndarray:
    """N(0, std²), std = gain·sqrt(2 / (fan_in + fan_out)) (Glorot & Bengio 2010)."""
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    return _normal(rng, _shape(fan_in, fan_out, shape), 0.0, std, dtype)


def _kaiming_std(fan_in, fan_out, a, mode, nonlinearity) -> float:
    return calculate_gain(nonlinearity, a) / math.sqrt(_fan(fan_in, fan_out, mode))


def kaiming_uniform(
    rng: np.random.Generator,
    fan_in: int,
    fan_out: int,
    *,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    shape=None,
    dtype=np.float32,
) -> np.ndarray:
    """U(−bound, bound), bound = sqrt(3)·gain/sqrt(fan_mode) (He et al. 2015; torch defaults).

    With torch's defaults (``a=0``, ``nonlinearity='leaky_relu'``) the gain is sqrt(2) as for ReLU.
    """
    shape = _shape(fan_in, fan_out, shape)
    bound = math.sqrt(3.0) * _kaiming_std(fan_in, fan_out, a, mode, nonlinearity)
    return _uniform(rng, shape, -bound, bound, dtype)


def kaiming_normal(
    rng: np.random.Generator,
    fan_in: int,
    fan_out: int,
    *,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    shape=None,
    dtype=np.float32,
) -> np.ndarray:
    """N(0, std²), std = gain/sqrt(fan_mode) (He et al. 2015; torch defaults)."""
    shape = _shape(fan_in, fan_out, shape)
    std = _kaiming_std(fan_in, fan_out, a, mode, nonlinearity)
    return _normal(rng, shape, 0.0, std, dtype)


def orthogonal(
    rng: np.random.Generator,
    fan_in: int,
    fan_out: int,
    *,
    gain: float = 1.0,
    shape=None,
    dtype=np.float32,
) -> np.ndarray:
    """gain × a uniformly random (semi-)orthogonal matrix (Saxe et al. 2014; torch's QR recipe).

    Tall ``W`` (fan_in >= fan_out) has orthonormal columns, ``W.T @ W = gain²·I``; wide ``W`` has
    orthonormal rows, ``W @ W.T = gain²·I``. A conv ``shape`` is drawn as torch does, as the matrix
    ``(shape[0], prod(shape[1:]))`` reshaped; the fans play no part then.
    """
    shape = _shape(fan_in, fan_out, shape)
    rows, cols = shape[0], math.prod(shape[1:])
    big, small = max(rows, cols), min(rows, cols)
    q, r = np.linalg.qr(rng.standard_normal((big, small)))
    # Multiplying by sign(diag(r)) makes the QR factor unique, hence Haar-distributed (as in torch).
    q *= np.sign(np.diag(r))
    w = q if rows >= cols else q.T
    return (gain * w).reshape(shape).astype(dtype, copy=False)


def lecun_normal(
    rng: np.random.Generator, fan_in: int, fan_out: int, *, shape=None, dtype=np.float32
) -> np.ndarray:
    """N(0, 1/fan_in): LeCun et al. 1998, the init SELU needs (Klambauer et al. 2017).

    torch has no such function; its SELU docs use ``kaiming_normal_(w, nonlinearity='linear')``,
    which is exactly this plain (untruncated) normal. jax's ``lecun_normal`` instead draws a normal
    truncated at ±2 std and rescaled to the same variance; we follow torch and the SELU paper.
    """
    return _normal(rng, _shape(fan_in, fan_out, shape), 0.0, 1.0 / math.sqrt(fan_in), dtype)


def conv_fans(out_channels: int, in_channels: int, kernel_size: int) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a conv weight, as torch's ``_calculate_fan_in_and_fan_out``:
    each output sees in_channels·kH·kW inputs, each input feeds out_channels·kH·kW outputs."""
    field = kernel_size * kernel_size
    return in_channels * field, out_channels * field


# torch's eye_ and sparse_ refuse a 4-D weight (dirac_ is its identity for convs).
_MATRIX_ONLY = ("eye", "sparse")


def conv_weight(
    name: str,
    rng: np.random.Generator,
    out_channels: int,
    in_channels: int,
    kernel_size: int,
    *,
    dtype=np.float32,
    **kw: Any,
) -> np.ndarray:
    """A conv weight ``(out_channels, in_channels, k, k)`` from ``INITIALIZERS[name]`` with the
    conv fans (``conv_fans``), as torch.nn.init fills a Conv2d.weight; eye and sparse are refused."""
    if name in _MATRIX_ONLY:
        raise ValueError(f"{name=}: torch's eye_ and sparse_ take 2-D weights only, not a conv's")
    if name not in INITIALIZERS:
        raise ValueError(f"Unknown initializer {name=}")
    shape = (out_channels, in_channels, kernel_size, kernel_size)
    fan_in, fan_out = conv_fans(out_channels, in_channels, kernel_size)
    return INITIALIZERS[name](rng, fan_in, fan_out, shape=shape, dtype=dtype, **kw)


def _trunc_normal_std(std: float, alpha: float, beta: float) -> float:
    """Std of N(0, std²) truncated to [alpha·std, beta·std] (standard closed form)."""
    pdf = lambda t: math.exp(-0.5 * t * t) / math.sqrt(2 * math.pi)  # noqa: E731
    z = _phi(beta) - _phi(alpha)
    m1 = (pdf(alpha) - pdf(beta)) / z
    m2 = 1 + (alpha * pdf(alpha) - beta * pdf(beta)) / z
    return std * math.sqrt(max(m2 - m1 * m1, 0.0))


def init_std(name: str, fan_in: int, fan_out: int, **kw: Any) -> float:
    """Theoretical std of the entries drawn by ``INITIALIZERS[name]`` (for a theory line in plots).

    For orthogonal: the entry std of a scaled orthogonal matrix, gain/sqrt(max(fan_in, fan_out)).
    """
    kw = {**default_kwargs(name), **kw}
    kw.pop("dtype", None)
    if name in ("zeros", "constant", "ones"):
        return 0.0
    if name == "eye":  # entries 1 with probability p = min/(fan_in·fan_out), else 0
        p = min(fan_in, fan_out) / (fan_in * fan_out)
        return math.sqrt(p * (1 - p))
    if name == "sparse":  # N(0, std²) on the share of each row that is not zeroed
        kept = fan_out - math.ceil(kw["sparsity"] * fan_out)
        return kw["std"] * math.sqrt(kept / fan_out)
    if name == "uniform":
        return (kw["b"] - kw["a"]) / math.sqrt(12.0)
    if name == "normal":
        return float(kw["std"])
    if name == "trunc_normal":
        s = kw["std"]
        return _trunc_normal_std(s, (kw["a"] - kw["mean"]) / s, (kw["b"] - kw["mean"]) / s)
    if name in ("xavier_uniform", "xavier_normal"):
        return kw["gain"] * math.sqrt(2.0 / (fan_in + fan_out))
    if name in ("kaiming_uniform", "kaiming_normal"):
        return _kaiming_std(fan_in, fan_out, kw["a"], kw["mode"], kw["nonlinearity"])
    if name == "orthogonal":
        return kw["gain"] / math.sqrt(max(fan_in, fan_out))
    if name == "lecun_normal":
        return 1.0 / math.sqrt(fan_in)
    raise ValueError(f"Unknown initializer {name=}")


class InitializerInfo(NamedTuple):
    """UI data: parameters, ``kind`` of distribution and a torch call template (``str.format``)."""

    params: dict[str, Param]
    kind: str  # "constant" | "uniform" | "normal" | "truncated_normal" | "orthogonal" | "sparse"
    torch_call: str


def _number(default: float, low: float, high: float) -> Param:
    """A numeric parameter whose input steps by 0.05 (every initializer's numbers are O(1))."""
    return Param("float", default, low, high, step=0.05)


_GAIN = _number(1.0, 0.1, 5.0)
_KAIMING = {
    "a": _number(0.0, 0.0, 1.0),
    "mode": Param("choice", "fan_in", options=("fan_in", "fan_out")),
    "nonlinearity": Param("choice", "leaky_relu", options=NONLINEARITIES),
}
_KAIMING_CALL = "a={a}, mode='{mode}', nonlinearity='{nonlinearity}')"

INITIALIZER_INFO: dict[str, InitializerInfo] = {
    "zeros": InitializerInfo({}, "constant", "torch.nn.init.zeros_(layer.weight)"),
    "ones": InitializerInfo({}, "constant", "torch.nn.init.ones_(layer.weight)"),
    "eye": InitializerInfo({}, "constant", "torch.nn.init.eye_(layer.weight)"),
    # torch's constant_ has no default val; 0.1 is only the UI's starting value.
    "constant": InitializerInfo(
        {"val": _number(0.1, -1.0, 1.0)},
        "constant",
        "torch.nn.init.constant_(layer.weight, {val})",
    ),
    "uniform": InitializerInfo(
        {"a": _number(0.0, -2.0, 2.0), "b": _number(1.0, -2.0, 2.0)},
        "uniform",
        "torch.nn.init.uniform_(layer.weight, a={a}, b={b})",
    ),
    "normal": InitializerInfo(
        {"mean": _number(0.0, -1.0, 1.0), "std": _number(1.0, 0.0, 3.0)},
        "normal",
        "torch.nn.init.normal_(layer.weight, mean={mean}, std={std})",
    ),
    "trunc_normal": InitializerInfo(
        {
            "mean": _number(0.0, -1.0, 1.0),
            "std": _number(1.0, 0.01, 3.0),
            "a": _number(-2.0, -5.0, 0.0),
            "b": _number(2.0, 0.0, 5.0),
        },
        "truncated_normal",
        "torch.nn.init.trunc_normal_(layer.weight, mean={mean}, std={std}, a={a}, b={b})",
    ),
    "xavier_uniform": InitializerInfo(
        {"gain": _GAIN}, "uniform", "torch.nn.init.xavier_uniform_(layer.weight, gain={gain})"
    ),
    "xavier_normal": InitializerInfo(
        {"gain": _GAIN}, "normal", "torch.nn.init.xavier_normal_(layer.weight, gain={gain})"
    ),
    "kaiming_uniform": InitializerInfo(
        _KAIMING, "uniform", "torch.nn.init.kaiming_uniform_(layer.weight, " + _KAIMING_CALL
    ),
    "kaiming_normal": InitializerInfo(
        _KAIMING, "normal", "torch.nn.init.kaiming_normal_(layer.weight, " + _KAIMING_CALL
    ),
    "orthogonal": InitializerInfo(
        {"gain": _GAIN}, "orthogonal", "torch.nn.init.orthogonal_(layer.weight, gain={gain})"
    ),
    # torch's sparse_ has no default sparsity; 0.9 is only the UI's starting value.
    "sparse": InitializerInfo(
        {"sparsity": _number(0.9, 0.0, 1.0), "std": Param("float", 0.01, 0.001, 1.0, step=0.001)},
        "sparse",
        "torch.nn.init.sparse_(layer.weight, sparsity={sparsity}, std={std})",
    ),
    "lecun_normal": InitializerInfo(
        {},
        "normal",
        "torch.nn.init.kaiming_normal_(layer.weight, mode='fan_in', nonlinearity='linear')",
    ),
}


def default_kwargs(name: str) -> dict[str, Any]:
    """The UI default of every parameter of ``INITIALIZERS[name]``."""
    return {k: spec.default for k, spec in INITIALIZER_INFO[name].params.items()}


def torch_call(name: str, **kw: Any) -> str:
    """The equivalent torch call as a string, e.g. for a code snippet beside the plot."""
    return INITIALIZER_INFO[name].torch_call.format(**{**default_kwargs(name), **kw})


INITIALIZERS: dict[str, Initializer] = {
    "zeros": zeros,
    "ones": ones,
    "constant": constant,
    "eye": eye,
    "uniform": uniform,
    "normal": normal,
    "trunc_normal": trunc_normal,
    "xavier_uniform": xavier_uniform,
    "xavier_normal": xavier_normal,
    "kaiming_uniform": kaiming_uniform,
    "kaiming_normal": kaiming_normal,
    "orthogonal": orthogonal,
    "sparse": sparse,
    "lecun_normal": lecun_normal,
}
