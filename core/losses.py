"""Loss functions as ``Loss(value, grad)`` records, plus stable (and naive) softmax helpers.

``value(y_true, y_pred)`` returns a float with torch's ``reduction="mean"``: the mean over all
elements, the mean over samples for cross_entropy, and ``"batchmean"`` (sum / N) for kl_div.
``grad(y_true, y_pred)`` is d value / d y_pred, with the shape and float dtype of ``y_pred`` and the
1/N of the mean included. A diverged model's huge or non-finite predictions give an inf or NaN loss
without a warning; the caller reports it. Malformed arguments (wrong shapes, labels outside their
set, probabilities outside [0, 1]) raise ``ValueError``.

Metadata, data only: ``LOSS_ENTRIES`` holds one record per loss (factory, widget ranges, torch
template for ``str.format(**params)``, what the target and the prediction are); ``LOSSES``,
``LOSS_PARAMS``, ``TORCH_NAMES``, ``LOSS_KINDS`` and ``LOSS_INPUTS`` are views of it. ``loss_curve`` evaluates any loss along one prediction axis for a fixed target, for plotting;
``loss_gradient_check`` checks the whole gradient there (every class's partial for multiclass).
"""

import functools
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from core.activations import sigmoid
from core.gradcheck import GradCheck, gradient_check, gradient_check_partials
from core.params import Param, checked_float

_expit = sigmoid().fn


class Loss(NamedTuple):
    value: Callable[[np.ndarray, np.ndarray], float]
    grad: Callable[[np.ndarray, np.ndarray], np.ndarray]


def _float(a) -> np.ndarray:
    """``a`` as a floating array: float32/float64 kept, anything else becomes float64."""
    a = np.asarray(a)
    return a if np.issubdtype(a.dtype, np.floating) else a.astype(np.float64)


def _pair(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    """Targets and predictions as arrays of one shape and y_pred's float dtype."""
    y_pred = _float(y_pred)
    y_true = np.asarray(y_true, dtype=y_pred.dtype)
    if y_true.shape != y_pred.shape:
        # torch only warns and broadcasts here, which silently gives a wrong loss.
        raise ValueError(f"{y_true.shape=} must equal {y_pred.shape=}")
    if y_pred.size == 0:
        raise ValueError(f"{y_pred.size=} must be positive")
    return y_true, y_pred


def _require(ok: bool, name: str, what: str, a: np.ndarray) -> None:
    """Raise ``ValueError`` unless ``ok``, quoting the offending range of ``a``."""
    if not ok:
        raise ValueError(f"{name} must {what}; got values from {a.min()} to {a.max()}")


def _loss(value, grad) -> Loss:
    """Wrap value and grad so overflow from diverged predictions yields inf/NaN silently, and a
    zero loss is 0, never −0.0 (−mean(log 1) of a perfect prediction would show as "-0")."""

    def quiet(fn):
        @functools.wraps(fn)
        def wrapped(y_true, y_pred):
            with np.errstate(over="ignore", invalid="ignore"):
                return fn(y_true, y_pred)

        return wrapped

    def unsigned_zero(y_true, y_pred):
        return value(y_true, y_pred) + 0.0  # −0.0 + 0.0 is +0.0; every other value is unchanged

    return Loss(quiet(unsigned_zero), quiet(grad))


def logsumexp(x, axis: int = -1, keepdims: bool = False) -> np.ndarray:
    """log Σ exp(x) along ``axis``, shifted by the maximum so exp never overflows."""
    x = _float(x)
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)  # an all −inf slice would otherwise give −inf − (−inf) = NaN
    with np.errstate(divide="ignore"):  # that slice's log 0 = −inf is the right answer
        out = m + np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))
    return out if keepdims else np.squeeze(out, axis=axis)


def softmax(logits, temperature: float = 1.0, axis: int = -1) -> np.ndarray:
    """exp(z/T) / Σ exp(z/T), computed after subtracting the maximum (same result, no overflow)."""
    temperature = checked_float("temperature", temperature, "gt_0")
    z = _float(logits) / temperature
    e = np.exp(z - np.max(z, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def log_softmax(logits, temperature: float = 1.0, axis: int = -1) -> np.ndarray:
    """log softmax(z/T) = z/T − logsumexp(z/T): finite even where softmax underflows to 0."""
    temperature = checked_float("temperature", temperature, "gt_0")
    z = _float(logits) / temperature
    return z - logsumexp(z, axis=axis, keepdims=True)


def softmax_naive(logits, temperature: float = 1.0, axis: int = -1) -> np.ndarray:
    """The textbook exp(z/T) / Σ exp(z/T) without the shift: inf/inf = NaN for large logits."""
    temperature = checked_float("temperature", temperature, "gt_0")
    # It exists to show the overflow, so the inf and NaN are the point; only the warning is muted.
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(_float(logits) / temperature)
        return e / np.sum(e, axis=axis, keepdims=True)


def cross_entropy_naive(logits, label: int) -> float:
    """−log(softmax_naive(logits)[label]) for one sample; inf or NaN once exp overflows."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        return float(-np.log(softmax_naive(logits)[label])) + 0.0  # not −0.0


def cross_entropy_stable(logits, label: int) -> float:
    """logsumexp(logits) − logits[label] for one sample: the same value, finite for any logits."""
    z = _float(logits)
    return float(logsumexp(z) - z[label])


def mse() -> Loss:
    """mean((y_pred − y_true)²) (torch.nn.MSELoss)."""

    def value(y_true, y_pred):
        y, p = _pair(y_true, y_pred)
        return float(np.mean((p - y) ** 2))

    def grad(y_true, y_pred):
        y, p = _pair(y_true, y_pred)
        return 2 * (p - y) / p.size

    return _loss(value, grad)


def mae() -> Loss:
    """mean|y_pred − y_true| (torch.nn.L1Loss); grad 0 where the residual is exactly 0."""

    def value(y_true, y_pred):
        y, p = _pair(y_true, y_pred)
        return float(np.mean(np.abs(p - y)))

    def grad(y_true, y_pred):
        y, p = _pair(y_true, y_pred)
        return np.sign(p - y) / p.size

    return _loss(value, grad)


def huber(delta: float = 1.0) -> Loss:
    """½r² for |r| < delta, else delta·(|r| − ½delta), averaged (torch.nn.HuberLoss)."""
    delta = checked_float("delta", delta, "gt_0")

    def value(y_true, y_pred):
        y, p = _pair(y_true, y_pred)
        r = p - y
        a = np.abs(r)
        return float(np.mean(np.where(a < delta, 0.5 * r * r, delta * (a - 0.5 * delta))))

    def grad(y_true, y_pred):
        y, p = _pair(y_true, y_pred)
        return np.clip(p - y, -delta, delta) / p.size

    return _loss(value, grad)


def smooth_l1(beta: float = 1.0) -> Loss:
    """½r²/beta for |r| < beta, else |r| − ½beta, averaged (torch.nn.SmoothL1Loss)."""
    beta = checked_float("beta", beta, "ge_0")
    if beta == 0:
        return mae()  # torch: "when beta is set to 0, this is equivalent to L1Loss"

    def value(y_true, y_pred):
        y, p = _pair(y_true, y_pred)
        r = p - y
        a = np.abs(r)
        return float(np.mean(np.where(a < beta, 0.5 * r * r / beta, a - 0.5 * beta)))

    def grad(y_true, y_pred):
        y, p = _pair(y_true, y_pred)
        return np.clip((p - y) / beta, -1, 1) / p.size

    return _loss(value, grad)


_LOG_2 = float(np.log(2.0))


def log_cosh() -> Loss:
    """mean(log cosh(y_pred − y_true)); no torch class."""

    def value(y_true, y_pred):
        y, p = _pair(y_true, y_pred)
        a = np.abs(p - y)
        # log cosh a = a + log(1 + e^(−2a)) − log 2: cosh itself overflows for a > 710, e^(−2a)
        # never does. The torch code shown is this same expression, operation for operation.
        return float(np.mean(a + np.log1p(np.exp(-2 * a)) - _LOG_2))

    def grad(y_true, y_pred):
        y, p = _pair(y_true, y_pred)
        return np.tanh(p - y) / p.size

    return _loss(value, grad)


def bce() -> Loss:
    """−mean(y·log p + (1 − y)·log(1 − p)) on probabilities p (torch.nn.BCELoss)."""

    def check(y, p):
        # NaN passes: a diverged model's NaN is reported as a NaN loss, not raised.
        _require(not np.any((p < 0) | (p > 1)), "y_pred", "lie in [0, 1]", p)
        _require(not np.any((y < 0) | (y > 1)), "y_true", "lie in [0, 1]", y)

    def value(y_true, y_pred):
        y, p = _pair(y_true, y_pred)
        check(y, p)
        # torch clamps each log at −100, so p = 0 or 1 costs at most 100 instead of inf, and
        # 0·log 0 becomes 0·(−100) = 0 instead of NaN.
        with np.errstate(divide="ignore"):
            log_p = np.maximum(np.log(p), -100)
            log_1mp = np.maximum(np.log1p(-p), -100)
        return float(np.mean(-(y * log_p + (1 - y) * log_1mp)))

    def grad(y_true, y_pred):
        y, p = _pair(y_true, y_pred)
        check(y, p)
        # torch's backward: the derivative of the unclamped formula, with the denominator
        # floored at 1e-12 so p = 0 or 1 gives a large finite slope, not a division by zero.
        return (p - y) / np.maximum(p * (1 - p), 1e-12) / p.size

    return _loss(value, grad)


def bce_with_logits() -> Loss:
    """bce(y, sigmoid(z)) computed from the logit z without forming p (torch.nn.BCEWithLogitsLoss)."""

    def value(y_true, y_pred):
        y, z = _pair(y_true, y_pred)
        # −y log σ(z) − (1 − y) log(1 − σ(z)) = max(z, 0) − z·y + log(1 + e^(−|z|)): exp never
        # overflows and log never sees 0, so there is no clamp and no 100 cap.
        return float(np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))))

    def grad(y_true, y_pred):
        y, z = _pair(y_true, y_pred)
        return (_expit(z) - y) / z.size

    return _loss(value, grad)


def _class_targets(y_true, y_pred) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """(targets, labels or None, logits): labels if y_true is (N,), else (N, C) probabilities."""
    z = _float(y_pred)
    if z.ndim != 2 or z.shape[0] == 0:
        raise ValueError(f"y_pred must be logits of shape (N, C) with N > 0; got {z.shape=}")
    n, c = z.shape
    y = np.asarray(y_true)
    if y.shape == (n,):
        _require(np.all(np.isfinite(y)), "y_true labels", "be finite", y)
        labels = y.astype(np.int64)
        _require(
            np.array_equal(labels, y) and labels.min() >= 0 and labels.max() < c,
            "y_true labels",
            f"be integers in [0, {c})",
            y,
        )
        return np.eye(c, dtype=z.dtype)[labels], labels, z
    if y.shape == (n, c):
        return y.astype(z.dtype), None, z
    raise ValueError(f"y_true must be labels (N,) or probabilities (N, C); got {y.shape=}")


def _smoothed(y: np.ndarray, label_smoothing: float) -> np.ndarray:
    """Targets mixed with the uniform distribution, (1 − ε)·y + ε/C (torch's label_smoothing)."""
    if not label_smoothing:
        return y
    return (1 - label_smoothing) * y + label_smoothing / y.shape[1]


def cross_entropy(label_smoothing: float = 0.0) -> Loss:
    """−mean over samples of Σ_c y_c·log softmax(z)_c, from logits (torch.nn.CrossEntropyLoss);
    with ``label_smoothing`` ε the targets are (1 − ε)·y + ε/C, as torch smooths them."""
    if not 0.0 <= label_smoothing <= 1.0:  # the slider's bounds; torch refuses the rest too
        raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing=}")

    def value(y_true, y_pred):
        y, labels, z = _class_targets(y_true, y_pred)
        # Fused with log-sum-exp: log softmax is z − logsumexp(z), finite for any logits, whereas
        # log(softmax(z)) is log 0 = −inf as soon as a probability underflows.
        logp = log_softmax(z)
        if labels is not None and not label_smoothing:
            # pick the label's term, as torch does, so other classes never enter
            return float(-np.mean(logp[np.arange(len(labels)), labels]))
        return float(-np.sum(_smoothed(y, label_smoothing) * logp) / z.shape[0])

    def grad(y_true, y_pred):
        y, _, z = _class_targets(y_true, y_pred)
        y = _smoothed(y, label_smoothing)
        # The gradient of the loss with respect to the logits is simply p − y: the 1/p from the
        # log cancels the p in the softmax Jacobian. Written as p·Σy − y it stays exact for
        # targets that do not sum to 1. Fusing softmax into the loss is what makes it this simple.
        p = softmax(z)
        return (p * np.sum(y, axis=1, keepdims=True) - y) / z.shape[0]

    return _loss(value, grad)


def nll_loss() -> Loss:
    """−mean over samples of log q[label] on log-probabilities (torch.nn.NLLLoss, usually after
    log_softmax); targets (N, C) of probabilities give −Σ y·log q / N, the same for one-hot y."""

    def value(y_true, y_pred):
        y, labels, logq = _class_targets(y_true, y_pred)
        if labels is not None:
            return float(-np.mean(logq[np.arange(len(labels)), labels]))
        return float(-np.sum(y * logq) / logq.shape[0])

    def grad(y_true, y_pred):
        # Linear in log q: the gradient is −y/N, with no softmax inside to cancel against.
        y, _, logq = _class_targets(y_true, y_pred)
        return -y / logq.shape[0]

    return _loss(value, grad)


def _margin_pair(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    y, f = _pair(y_true, y_pred)
    _require(np.all((y == 1) | (y == -1)), "y_true", "be -1 or +1", y)
    return y, f


def hinge() -> Loss:
    """mean(max(0, 1 − y·f)) with labels y ∈ {−1, +1} and scores f (SVM hinge; no torch class)."""

    def value(y_true, y_pred):
        y, f = _margin_pair(y_true, y_pred)
        return float(np.mean(np.maximum(0, 1 - y * f)))

    def grad(y_true, y_pred):
        y, f = _margin_pair(y_true, y_pred)
        # At the margin (1 − y·f = 0) the subgradient is −y, as in the torch code shown: the
        # backward of torch.clamp(u, min=0) passes the gradient where u >= min, the boundary too.
        return np.where(1 - y * f >= 0, -y, 0) / f.size

    return _loss(value, grad)


def squared_hinge() -> Loss:
    """mean(max(0, 1 − y·f)²) with y ∈ {−1, +1}: the hinge made differentiable at the margin."""

    def value(y_true, y_pred):
        y, f = _margin_pair(y_true, y_pred)
        return float(np.mean(np.maximum(0, 1 - y * f) ** 2))

    def grad(y_true, y_pred):
        y, f = _margin_pair(y_true, y_pred)
        return -2 * y * np.maximum(0, 1 - y * f) / f.size

    return _loss(value, grad)


def contrastive(margin: float = 1.0) -> Loss:
    """mean(½·[y·d² + (1 − y)·max(0, margin − d)²]) on pair distances d (Hadsell et al. 2006)."""
    # Convention: y_true = 1 marks a similar pair (pulled together), 0 a dissimilar one (pushed
    # beyond the margin). The ½ is kept from the paper; the paper's own label is flipped (Y = 0
    # similar), here 1 = similar as in most current code. No torch class.
    margin = checked_float("margin", margin, "gt_0")

    def check(y_true, y_pred):
        y, d = _pair(y_true, y_pred)
        _require(np.all((y == 0) | (y == 1)), "y_true", "be 0 or 1", y)
        _require(not np.any(d < 0), "y_pred (a distance)", "be >= 0", d)
        return y, d

    def value(y_true, y_pred):
        y, d = check(y_true, y_pred)
        push = np.maximum(0, margin - d)
        return float(np.mean(0.5 * (y * d * d + (1 - y) * push * push)))

    def grad(y_true, y_pred):
        y, d = check(y_true, y_pred)
        return (y * d - (1 - y) * np.maximum(0, margin - d)) / d.size

    return _loss(value, grad)


def kl_div() -> Loss:
    """Σ y·(log y − y_pred) / N with y_pred = log-probabilities (torch.nn.KLDivLoss, "batchmean")."""
    # torch's conventions: the input is log q (log_target=False leaves the target as plain
    # probabilities), and "batchmean" divides the sum by the batch size y_pred.shape[0], which
    # gives the true mean KL divergence per sample; "mean" would divide by N·C.

    def batch(a):
        return a.shape[0] if a.ndim else 1

    def value(y_true, y_pred):
        y, logq = _pair(y_true, y_pred)
        _require(np.all(y >= 0), "y_true", "be >= 0", y)
        # y·log y with 0·log 0 = 0 (its limit), as torch's xlogy; log is never evaluated at 0.
        y_log_y = np.where(y > 0, y * np.log(np.where(y > 0, y, 1)), 0)
        return float(np.sum(y_log_y - y * logq) / batch(logq))

    def grad(y_true, y_pred):
        y, logq = _pair(y_true, y_pred)
        _require(np.all(y >= 0), "y_true", "be >= 0", y)
        return -y / batch(logq)

    return _loss(value, grad)


class LossEntry(NamedTuple):
    """One loss as the app offers it: its factory, its parameters (torch's names and defaults, a
    test checks them against the factory), the equivalent torch code (a ``str.format`` template;
    an expression where torch has no class), ``kind``, what the target of ``loss_curve`` is
    ("regression" any real y; "binary" y ∈ [0, 1]; "multiclass" the probability that class 0 is
    right; "margin" y ∈ {−1, +1}; "pair" y ∈ {0, 1} with 1 = similar) and ``input``, what y_pred
    is (loss_curve's x, except for the two multiclass losses, whose x is the logit of class 0 in
    a two-class problem with class 1's logit fixed at 0)."""

    factory: Callable[..., Loss]
    params: dict[str, Param]
    torch_call: str
    kind: str
    input: str


LOSS_ENTRIES: dict[str, LossEntry] = {
    "mse": LossEntry(mse, {}, "torch.nn.MSELoss()", "regression", "prediction"),
    "mae": LossEntry(mae, {}, "torch.nn.L1Loss()", "regression", "prediction"),
    "huber": LossEntry(
        huber,
        {"delta": Param("float", 1.0, 0.1, 5.0, step=0.1)},
        "torch.nn.HuberLoss(delta={delta})",
        "regression",
        "prediction",
    ),
    "smooth_l1": LossEntry(
        smooth_l1,
        {"beta": Param("float", 1.0, 0.0, 5.0, step=0.1)},
        "torch.nn.SmoothL1Loss(beta={beta})",
        "regression",
        "prediction",
    ),
    "log_cosh": LossEntry(
        log_cosh,
        {},
        "(torch.abs(y_pred - y_true) + torch.log1p(torch.exp(-2 * torch.abs(y_pred - y_true)))"
        " - math.log(2)).mean()",
        "regression",
        "prediction",
    ),
    "bce": LossEntry(bce, {}, "torch.nn.BCELoss()", "binary", "probability"),
    "bce_with_logits": LossEntry(
        bce_with_logits, {}, "torch.nn.BCEWithLogitsLoss()", "binary", "logit"
    ),
    "cross_entropy": LossEntry(
        cross_entropy,
        {"label_smoothing": Param("float", 0.0, 0.0, 1.0, step=0.05)},
        "torch.nn.CrossEntropyLoss(label_smoothing={label_smoothing})",
        "multiclass",
        "logits",
    ),
    "nll_loss": LossEntry(nll_loss, {}, "torch.nn.NLLLoss()", "multiclass", "log_probabilities"),
    "hinge": LossEntry(
        hinge, {}, "torch.clamp(1 - y_true * y_pred, min=0).mean()", "margin", "score"
    ),
    "squared_hinge": LossEntry(
        squared_hinge,
        {},
        "torch.clamp(1 - y_true * y_pred, min=0).pow(2).mean()",
        "margin",
        "score",
    ),
    "contrastive": LossEntry(
        contrastive,
        {"margin": Param("float", 1.0, 0.1, 5.0, step=0.1)},
        "(0.5 * (y_true * y_pred**2 + (1 - y_true) * torch.clamp({margin} - y_pred, min=0)**2)).mean()",
        "pair",
        "distance",
    ),
    "kl_div": LossEntry(
        kl_div, {}, "torch.nn.KLDivLoss(reduction='batchmean')", "multiclass", "log_probabilities"
    ),
}
# Views of the records by what callers look up.
LOSSES: dict[str, Callable[..., Loss]] = {name: e.factory for name, e in LOSS_ENTRIES.items()}
LOSS_PARAMS = {name: entry.params for name, entry in LOSS_ENTRIES.items()}
TORCH_NAMES = {name: entry.torch_call for name, entry in LOSS_ENTRIES.items()}
LOSS_KINDS = {name: entry.kind for name, entry in LOSS_ENTRIES.items()}
LOSS_INPUTS = {name: entry.input for name, entry in LOSS_ENTRIES.items()}


def loss_curve(name: str, x, target: float, **params) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample loss and its slope d loss / dx at each x, for a fixed target (see LOSS_KINDS)."""
    loss = LOSSES[name](**params)
    x = np.asarray(x, dtype=np.float64)
    values, slopes = np.empty_like(x), np.empty_like(x)
    # One call per point through the registry's own value and grad, so the plotted curve is
    # exactly what training uses; a few hundred points cost milliseconds.
    for i, xi in np.ndenumerate(x):
        if LOSS_KINDS[name] != "multiclass":
            y_true, y_pred = np.array([target]), np.array([xi])
            values[i] = loss.value(y_true, y_pred)
            slopes[i] = loss.grad(y_true, y_pred)[0]
            continue
        logits = np.array([[xi, 0.0]])
        y_true = np.array([[target, 1 - target]])
        if LOSS_INPUTS[name] == "logits":
            values[i] = loss.value(y_true, logits)
            slopes[i] = loss.grad(y_true, logits)[0, 0]
        else:  # log-probabilities of the two classes: chain rule through log_softmax
            logq = log_softmax(logits)
            g = loss.grad(y_true, logq)[0]
            p0 = np.exp(logq[0, 0])
            values[i] = loss.value(y_true, logq)
            slopes[i] = g[0] - p0 * (g[0] + g[1])  # d log q_j / dx = [j = 0] − q_0
    return values, slopes


def _curve_inputs(name: str, x: np.ndarray) -> np.ndarray:
    """loss_curve's whole prediction at each x, one row each: x itself, or for the multiclass
    losses the logits (x, 0) of a two-class problem (their log-probabilities for kl_div)."""
    if LOSS_KINDS[name] != "multiclass":
        return x.reshape(-1, 1)
    logits = np.stack([x, np.zeros_like(x)], axis=1)
    return logits if LOSS_INPUTS[name] == "logits" else log_softmax(logits)


def loss_gradient_check(
    name: str, x, target: float, domain: tuple = (-np.inf, np.inf), **params
) -> GradCheck:
    """The loss's ``grad`` against central differences of its ``value`` at each point of
    loss_curve: along x inside ``domain`` for one prediction, and in every coordinate of the
    prediction (each class's logit or log-probability) for the multiclass losses."""
    loss = LOSSES[name](**params)
    x = np.asarray(x, dtype=np.float64).ravel()
    if LOSS_KINDS[name] != "multiclass":
        return gradient_check(
            lambda v: loss_curve(name, v, target, **params)[0],
            lambda v: loss_curve(name, v, target, **params)[1],
            x,
            low=domain[0],
            high=domain[1],
        )
    y_true = np.array([[target, 1 - target]])

    def values(rows):
        return np.array([loss.value(y_true, row[None]) for row in rows])

    def grads(rows):
        # Both losses average over samples (kl_div's "batchmean" too), so one call on all rows
        # gives each row's own gradient divided by the number of rows.
        return loss.grad(np.repeat(y_true, len(rows), axis=0), rows) * len(rows)

    return gradient_check_partials(values, grads, _curve_inputs(name, x))
