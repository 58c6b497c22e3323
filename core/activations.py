"""Activation functions as ``Activation(fn, grad)`` records, pure NumPy.

Every factory in ``ACTIVATIONS`` takes torch.nn's parameter names and defaults and returns an
``Activation`` whose ``fn(z)`` and ``grad(z)`` (= d fn / dz) work elementwise on arrays of any
shape. Float32 and float64 inputs keep their dtype (other inputs are computed in float64). Both are
finite for every finite input, however large: no overflow or invalid-value warnings. At a kink,
``grad`` returns the one-sided value torch's backward uses. Invalid parameters raise ``ValueError``.
Where both cost nearly the same work (sigmoid, tanh, exact GELU), ``fn_and_grad`` returns the pair
from one pass; ``value_and_grad`` uses it where it exists.
The exact GELU computes float64 inputs with a float64 series (~1e-13) and float32 inputs with a
float32 fit (within ~10 float32 ulps, tails included), which is ~5x faster on a network's layers.

``ACTIVATION_ENTRIES`` holds one record per activation: its factory, its parameters for building
widgets (data only, no UI text) and its torch call; ``ACTIVATIONS``, ``ACTIVATION_PARAMS`` and
``TORCH_NAMES`` are views of it by name.
"""

import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from core.params import Param, ParamError, checked_float

ArrayFn = Callable[[np.ndarray], np.ndarray]


class Activation(NamedTuple):
    """``fn`` and its derivative ``grad``; ``fn_and_grad``, where set, returns both from one pass."""

    fn: ArrayFn
    grad: ArrayFn
    fn_and_grad: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]] | None = None


def value_and_grad(activation: Activation, z) -> tuple[np.ndarray, np.ndarray]:
    """``(fn(z), grad(z))``, equal to the two calls, through ``fn_and_grad`` where it has one."""
    if activation.fn_and_grad is not None:
        return activation.fn_and_grad(z)
    return activation.fn(z), activation.grad(z)


def _float(z) -> np.ndarray:
    """``z`` as a floating array: float32/float64 kept, anything else becomes float64."""
    z = np.asarray(z)
    return z if z.dtype.kind == "f" else z.astype(np.float64)


def _expit(z: np.ndarray) -> np.ndarray:
    """Logistic sigmoid without overflow."""
    # exp(-|z|) lies in (0, 1], so neither branch can overflow; 1/(1 + exp(-z)) would for z << 0.
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


_SQRT_HALF = math.sqrt(0.5)
_SERIES_TERMS = 30  # with |u| < 2 the series below is exact to ~1e-16 after 30 terms
_FRACTION_DEPTH = 60  # with u >= 2 the continued fraction is exact to ~1e-15 at depth 60


def _normal_cdf(z: np.ndarray) -> np.ndarray:
    """Standard normal CDF Φ(z) in float64, accurate to ~1e-13 relative (NumPy has no erf)."""
    # Φ(z) = (1 + erf(u)) / 2 with u = z/√2. Clipping changes nothing: Φ(±40) is 0 or 1 exactly.
    u = np.clip(np.asarray(z, dtype=np.float64), -40.0, 40.0) * _SQRT_HALF
    out = np.empty_like(u)
    small = np.abs(u) < 2.0
    # Centre: erf(u) = 2/√π · exp(−u²) · Σ (2u²)ⁿ u / (1·3·…·(2n+1)) (Abramowitz & Stegun 7.1.6);
    # all terms share a sign, so unlike the Maclaurin series it has no cancellation.
    us = u[small]
    term, total, two_u2 = us.copy(), us.copy(), 2 * us * us
    for n in range(1, _SERIES_TERMS):
        # term = term * two_u2 / (2n + 1), in place: the same operations without new arrays
        np.multiply(term, two_u2, out=term)
        term /= 2 * n + 1
        total += term
    out[small] = 0.5 + np.exp(-us * us) * total / math.sqrt(math.pi)
    # Tails: erfc(x) = exp(−x²)/√π / (x + ½/(x + 1/(x + 3/2/(x + …)))) for x > 0 (A&S 7.1.14),
    # evaluated from the inside out. It gives the tiny tail value directly instead of 1 − erf,
    # which would round to 0 and lose GELU's small negative outputs.
    x = np.abs(u[~small])
    fraction = np.zeros_like(x)
    for k in range(_FRACTION_DEPTH, 0, -1):
        # fraction = (k / 2) / (x + fraction), in place
        fraction += x
        np.divide(k / 2, fraction, out=fraction)
    half_erfc = 0.5 * np.exp(-x * x) / math.sqrt(math.pi) / (x + fraction)
    out[~small] = np.where(u[~small] < 0, half_erfc, 1 - half_erfc)
    return out


# Numerical Recipes' erfcc (Press et al. 1992, §6.2), a Chebyshev fit with relative error < 1.2e-7
# for every x >= 0: erfc(x) = t·exp(−x² + P(t)) with t = 1/(1 + x/2) and P's coefficients below,
# constant term first.
_ERFCC = (-1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806, 0.27886807, -1.13520398,
          1.48851587, -0.82215223, 0.17087277)  # fmt: skip
_F32 = np.float32
_LOG_2 = math.log(2.0)
# Adding and subtracting this rounds a float32 in [0, 16) to a multiple of 2⁻⁸ (12 significant bits),
# whose square float32 holds exactly.
_ROUND_8_BITS = _F32(1.5 * 2.0 ** (23 - 8))


def _normal_cdf32(z: np.ndarray, with_pdf: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """Φ(z) of a float32 array in float32 (and φ(z) if asked), ~7x faster than the float64 series.

    Within 10 float32 ulps of the exact value wherever Φ(z) is a normal float32 (z > −12.9). Every
    step writes in place: the initialization page runs this twice per layer on 256 × 512 values.
    """
    shape = z.shape
    z = z.reshape(-1)  # in-place ufuncs need arrays, and a 0-d input would give NumPy scalars
    a = np.abs(z)
    # Φ(−15) and φ(15) are below float32's smallest subnormal, so the clip changes no output and
    # keeps a² finite.
    np.clip(a, _F32(0.0), _F32(15.0), out=a)
    # exp(−a²/2) as exp(−ah²/2)·exp(−(a − ah)(a + ah)/2): rounding a² to float32 would cost a
    # relative error of a²·2⁻²⁴ after exp (30 ulps at a = 8); ah² is exact and the rest is small.
    ah = a + _ROUND_8_BITS
    ah -= _ROUND_8_BITS
    minus_half_rest = a - ah
    minus_half_rest *= a + ah
    minus_half_rest *= _F32(-0.5)
    t = a * _F32(0.5 * _SQRT_HALF)  # x/2 with x = |z|/√2
    t += _F32(1.0)
    np.reciprocal(t, out=t)
    arg = t * _F32(_ERFCC[-1])
    for c in _ERFCC[-2:0:-1]:
        arg += _F32(c)
        arg *= t
    # The /2 of Φ = erfc/2 rides in the small exponent, where adding a constant costs no precision.
    arg += _F32(_ERFCC[0] - _LOG_2)
    arg += minus_half_rest
    gauss = np.multiply(ah, ah, out=ah)
    gauss *= _F32(-0.5)
    np.exp(gauss, out=gauss)  # exp(−ah²/2)
    # h = Φ(−|z|) = erfc(x)/2 straight from the fit: the tiny tail value keeps its relative
    # precision, where 1 − Φ(|z|) would round to 0.
    h = np.exp(arg, out=arg)
    h *= t
    h *= gauss
    # Φ(z) = h for z < 0, else 1 − h, written as h + [z >= 0]·(1 − 2h): NumPy's masked selection
    # (np.where, copyto(where=)) costs as much as 40 of these passes.
    cdf = np.greater_equal(z, 0, out=t, casting="unsafe")
    one_minus_2h = np.multiply(h, _F32(-2.0), out=a)
    one_minus_2h += _F32(1.0)
    cdf *= one_minus_2h
    cdf += h
    if not with_pdf:
        return cdf.reshape(shape), None
    pdf = np.exp(minus_half_rest, out=minus_half_rest)
    pdf *= gauss
    pdf *= _F32(1 / math.sqrt(2 * math.pi))
    return cdf.reshape(shape), pdf.reshape(shape)


def identity() -> Activation:
    """f(z) = z (torch.nn.Identity)."""
    return Activation(lambda z: _float(z).copy(), lambda z: np.ones_like(_float(z)))


def sigmoid() -> Activation:
    """f(z) = 1 / (1 + e^−z) (torch.nn.Sigmoid)."""

    def fn_and_grad(z):
        # The derivative from the output, σ(1 − σ), saves recomputing σ: exp is the dear part.
        s = _expit(_float(z))
        return s, s * (1 - s)

    return Activation(lambda z: _expit(_float(z)), lambda z: fn_and_grad(z)[1], fn_and_grad)


def tanh() -> Activation:
    """f(z) = tanh z (torch.nn.Tanh)."""

    def fn_and_grad(z):
        # The derivative from the output, 1 − tanh², saves a second tanh, the dear part.
        t = np.tanh(_float(z))
        return t, 1 - t**2

    return Activation(lambda z: np.tanh(_float(z)), lambda z: fn_and_grad(z)[1], fn_and_grad)


def relu() -> Activation:
    """f(z) = max(0, z) (torch.nn.ReLU); grad 0 at z = 0 as in torch."""

    def fn(z):
        z = _float(z)
        return np.maximum(z, 0).astype(z.dtype, copy=False)

    def grad(z):
        z = _float(z)
        return (z > 0).astype(z.dtype, copy=False)

    return Activation(fn, grad)


def leaky_relu(negative_slope: float = 0.01) -> Activation:
    """f(z) = z for z ≥ 0, else negative_slope·z (torch.nn.LeakyReLU; PReLU learns the slope)."""
    negative_slope = checked_float("negative_slope", negative_slope, "finite")

    def fn(z):
        z = _float(z)
        return np.where(z >= 0, z, negative_slope * z).astype(z.dtype, copy=False)

    def grad(z):
        z = _float(z)
        return np.where(z > 0, 1.0, negative_slope).astype(z.dtype, copy=False)

    return Activation(fn, grad)


def hardtanh(min_val: float = -1.0, max_val: float = 1.0) -> Activation:
    """f(z) = clip(z, min_val, max_val) (torch.nn.Hardtanh); grad 0 at the two corners."""
    min_val, max_val = float(min_val), float(max_val)
    if not min_val < max_val:
        raise ParamError(
            "min_val",
            "lt_max_val",
            f"{min_val=} must be less than {max_val=}",
            min_val=min_val,
            max_val=max_val,
        )

    def fn(z):
        z = _float(z)
        return np.clip(z, min_val, max_val).astype(z.dtype, copy=False)

    def grad(z):
        z = _float(z)
        return ((z > min_val) & (z < max_val)).astype(z.dtype, copy=False)

    return Activation(fn, grad)


def relu6() -> Activation:
    """f(z) = min(max(0, z), 6) (torch.nn.ReLU6), i.e. hardtanh(0, 6)."""
    return hardtanh(min_val=0.0, max_val=6.0)


def hardsigmoid() -> Activation:
    """f(z) = clip(z/6 + 1/2, 0, 1) (torch.nn.Hardsigmoid); grad 0 at z = ±3."""

    def fn(z):
        z = _float(z)
        return np.clip(z / 6 + 0.5, 0, 1).astype(z.dtype, copy=False)

    def grad(z):
        z = _float(z)
        return np.where((z > -3) & (z < 3), 1 / 6, 0.0).astype(z.dtype, copy=False)

    return Activation(fn, grad)


def softsign() -> Activation:
    """f(z) = z / (1 + |z|) (torch.nn.Softsign)."""

    def fn(z):
        z = _float(z)
        return z / (1 + np.abs(z))

    def grad(z):
        # Square the reciprocal, not the denominator: (1 + |z|)² overflows for |z| > 1e154.
        return (1 / (1 + np.abs(_float(z)))) ** 2

    return Activation(fn, grad)


def elu(alpha: float = 1.0) -> Activation:
    """f(z) = z for z > 0, alpha·(e^z − 1) otherwise (torch.nn.ELU; Clevert et al. 2015)."""
    # The paper requires alpha > 0; alpha = 0 is allowed as the ReLU limit.
    alpha = checked_float("alpha", alpha, "ge_0")

    def fn(z):
        z = _float(z)
        # expm1 only sees the clipped negative part, so e^z cannot overflow for large positive z;
        # expm1 also keeps full precision for small |z| where e^z − 1 would cancel.
        return np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0))).astype(z.dtype, copy=False)

    def grad(z):
        z = _float(z)
        return np.where(z > 0, 1.0, alpha * np.exp(np.minimum(z, 0))).astype(z.dtype, copy=False)

    return Activation(fn, grad)


# Klambauer et al. (2017) constants, as in the torch.nn.SELU docs.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def selu() -> Activation:
    """f(z) = scale·elu(z, alpha) with the self-normalising constants (torch.nn.SELU)."""
    base = elu(alpha=SELU_ALPHA)
    return Activation(lambda z: SELU_SCALE * base.fn(z), lambda z: SELU_SCALE * base.grad(z))


_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)
_GELU_CUBIC = 0.044715


def gelu(approximate: str = "none") -> Activation:
    """f(z) = z·Φ(z) (torch.nn.GELU); approximate="tanh" uses Hendrycks & Gimpel's tanh formula."""
    if approximate == "none":

        def fn(z):
            z = _float(z)
            if z.dtype == np.float32:
                return z * _normal_cdf32(z)[0]
            return (z * _normal_cdf(z)).astype(z.dtype, copy=False)

        def cdf_and_grad(z):
            # Φ(z) and f'(z) = Φ(z) + z·φ(z): Φ is nearly all the cost of fn and of grad.
            if z.dtype == np.float32:
                cdf, slope = _normal_cdf32(z, with_pdf=True)
                slope *= z
                slope += cdf
                return cdf, slope
            cdf = _normal_cdf(z)
            # Density on a clipped copy: z² would overflow for huge |z|, where φ is 0 anyway.
            zc = np.clip(z.astype(np.float64), -40.0, 40.0)
            pdf = np.exp(-0.5 * zc * zc) / math.sqrt(2 * math.pi)
            return cdf, (cdf + zc * pdf).astype(z.dtype, copy=False)

        def fn_and_grad(z):
            z = _float(z)
            cdf, slope = cdf_and_grad(z)
            return (z * cdf).astype(z.dtype, copy=False), slope

        return Activation(fn, lambda z: cdf_and_grad(_float(z))[1], fn_and_grad)

    if approximate == "tanh":

        def inner(z):
            # tanh saturates to exactly ±1 long before |z| = 100, so the clip changes no output
            # and keeps z³ from overflowing.
            zc = np.clip(z, -100, 100)
            return zc, np.tanh(_SQRT_2_OVER_PI * (zc + _GELU_CUBIC * zc**3))

        def fn(z):
            z = _float(z)
            _, t = inner(z)
            return 0.5 * z * (1 + t)

        def grad(z):
            z = _float(z)
            zc, t = inner(z)
            d_inner = _SQRT_2_OVER_PI * (1 + 3 * _GELU_CUBIC * zc**2)
            return 0.5 * (1 + t) + 0.5 * zc * (1 - t * t) * d_inner

        return Activation(fn, grad)

    raise ValueError(f"{approximate=} must be 'none' or 'tanh'")


def silu(beta: float = 1.0) -> Activation:
    """f(z) = z·σ(beta·z): Swish (Ramachandran et al. 2017); beta = 1 is torch.nn.SiLU."""
    # beta = 0 gives z/2 and beta → ∞ approaches ReLU; negative beta is not a Swish.
    beta = checked_float("beta", beta, "ge_0")

    def fn(z):
        z = _float(z)
        return z * _expit(beta * z)

    def grad(z):
        z = _float(z)
        s = _expit(beta * z)
        return s + beta * z * s * (1 - s)

    return Activation(fn, grad)


def softplus(beta: float = 1.0, threshold: float = 20.0) -> Activation:
    """f(z) = log(1 + e^(beta·z)) / beta, or z where beta·z > threshold (torch.nn.Softplus)."""
    beta = checked_float("beta", beta, "gt_0")
    threshold = checked_float("threshold", threshold, "finite")

    def fn(z):
        z = _float(z)
        bz = beta * z
        # logaddexp(0, x) = log(e^0 + e^x) computed without overflow; the threshold switch is
        # torch's, kept so values match torch exactly (it leaves a jump of log1p(e^−t)/beta).
        return np.where(bz > threshold, z, np.logaddexp(0, bz) / beta).astype(z.dtype, copy=False)

    def grad(z):
        z = _float(z)
        bz = beta * z
        return np.where(bz > threshold, 1.0, _expit(bz)).astype(z.dtype, copy=False)

    return Activation(fn, grad)


def mish() -> Activation:
    """f(z) = z·tanh(softplus(z)) (torch.nn.Mish; Misra 2019)."""

    def fn(z):
        z = _float(z)
        return z * np.tanh(np.logaddexp(0, z))

    def grad(z):
        z = _float(z)
        t = np.tanh(np.logaddexp(0, z))
        # d softplus/dz = σ(z). Where t² rounds to 1 or σ to 0 the z·… term is exactly 0, not inf·0.
        return t + z * (1 - t * t) * _expit(z)

    return Activation(fn, grad)


class ActivationEntry(NamedTuple):
    """One activation as the app offers it: its factory, its parameters (torch's names and
    defaults, a test checks them against the factory) and the equivalent torch.nn module, a
    ``str.format`` template over those parameters."""

    factory: Callable[..., Activation]
    params: dict[str, Param]
    torch_call: str


# Widget ranges; defaults equal the factory defaults (a test checks it). Ranges are chosen so that
# no combination inside them raises, e.g. hardtanh's min_val range ends below max_val's.
def _number(default: float, low: float, high: float, step: float) -> Param:
    return Param("float", default, low, high, step=step)


# torch has no class for Swish with beta ≠ 1 (SiLU is beta = 1), and PReLU is LeakyReLU with a
# learned negative_slope.
ACTIVATION_ENTRIES: dict[str, ActivationEntry] = {
    "identity": ActivationEntry(identity, {}, "torch.nn.Identity()"),
    "sigmoid": ActivationEntry(sigmoid, {}, "torch.nn.Sigmoid()"),
    "tanh": ActivationEntry(tanh, {}, "torch.nn.Tanh()"),
    "relu": ActivationEntry(relu, {}, "torch.nn.ReLU()"),
    "leaky_relu": ActivationEntry(
        leaky_relu,
        {"negative_slope": _number(0.01, 0.0, 1.0, 0.01)},
        "torch.nn.LeakyReLU(negative_slope={negative_slope})",
    ),
    "relu6": ActivationEntry(relu6, {}, "torch.nn.ReLU6()"),
    "hardtanh": ActivationEntry(
        hardtanh,
        {"min_val": _number(-1.0, -3.0, 0.0, 0.1), "max_val": _number(1.0, 0.5, 6.0, 0.1)},
        "torch.nn.Hardtanh(min_val={min_val}, max_val={max_val})",
    ),
    "hardsigmoid": ActivationEntry(hardsigmoid, {}, "torch.nn.Hardsigmoid()"),
    "softsign": ActivationEntry(softsign, {}, "torch.nn.Softsign()"),
    "elu": ActivationEntry(
        elu, {"alpha": _number(1.0, 0.0, 3.0, 0.1)}, "torch.nn.ELU(alpha={alpha})"
    ),
    "selu": ActivationEntry(selu, {}, "torch.nn.SELU()"),
    "gelu": ActivationEntry(
        gelu,
        {"approximate": Param("choice", "none", options=("none", "tanh"))},
        "torch.nn.GELU(approximate='{approximate}')",
    ),
    "silu": ActivationEntry(silu, {"beta": _number(1.0, 0.0, 10.0, 0.1)}, "torch.nn.SiLU()"),
    "softplus": ActivationEntry(
        softplus,
        {"beta": _number(1.0, 0.1, 10.0, 0.1), "threshold": _number(20.0, 1.0, 40.0, 1.0)},
        "torch.nn.Softplus(beta={beta}, threshold={threshold})",
    ),
    "mish": ActivationEntry(mish, {}, "torch.nn.Mish()"),
}
# Views of the records by what callers look up.
ACTIVATIONS: dict[str, Callable[..., Activation]] = {
    name: entry.factory for name, entry in ACTIVATION_ENTRIES.items()
}
ACTIVATION_PARAMS = {name: entry.params for name, entry in ACTIVATION_ENTRIES.items()}
TORCH_NAMES = {name: entry.torch_call for name, entry in ACTIVATION_ENTRIES.items()}
