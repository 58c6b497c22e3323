"""Run optimizers on 2-D surfaces: one path, a vectorized race of many, lr searches, convergence maps.

``descend(optimizer, surface, start, steps)`` returns a ``Path`` whose ``points`` have shape
``(steps + 1, 2)`` (``points[0]`` is the start), ``losses`` shape ``(steps + 1,)``, and, for
drawing arrows, ``grads[t]`` (the gradient at ``points[t]``) and ``updates[t]``
(``points[t + 1] - points[t]``), both of shape ``(steps, 2)``. A ``ClosureOptimizer`` (L-BFGS)
gets a closure that evaluates the surface and records every point, so its path also holds
``evaluations`` (how many evaluations of f and ∇f the steps had done, per step) and ``visited``
(every point evaluated, in order).

A path diverges at the first point that is non-finite, has a coordinate beyond ``MAX_ABS_PARAM``
or a loss that is non-finite or above ``MAX_LOSS``. ``diverged_at`` is that point's index (None if
none) and everything from there on is NaN: the arrays keep their shape and hold only the last
finite points. Divergence is data, never an exception or a warning.

``race`` advances many optimizers, each on its own batch of runs (e.g. one run per lr of an lr
grid, with ``lr`` an array of shape ``(R, 1)``), in one loop over the steps: one surface call per
step for all runs, and one ``update`` per *family*: optimizers built by the same factory with the
same flags (e.g. SGD and Momentum; Adam and AdamW) are fused into one optimizer whose
hyperparameters are per-run arrays (``Fusion`` records of ``core.fast_optimizers``). Before that,
optimizers with scalar settings and a ``Shared`` record (SGD, Momentum, Nesterov, Adagrad, plain
RMSprop, Adadelta, Adam, AdamW, NAdam, Adamax) become a single family whose update runs each
optimizer's formula as coefficient tables over all of their rows. With 2-D points an update costs
NumPy's per-call overhead, not arithmetic, so fewer calls is what makes it fast. Elementwise
arithmetic is the same per run, in each optimizer's own order of operations, so results equal
those of separate ``descend`` calls. An optimizer that reads its whole array (Adafactor) runs
each run's point as its own array.
"""

from collections.abc import Callable, Sequence
from itertools import repeat
from typing import Any, NamedTuple

import numpy as np

from core.fast_optimizers import fast_paths
from core.optimizers import ClosureOptimizer, Optimizer, sgd
from core.surfaces import Surface

MAX_ABS_PARAM = 1e6
MAX_LOSS = 1e12
LR_GRID = np.logspace(-5, 1, 31)  # 1e-5 ... 10, five per decade


class Path(NamedTuple):
    points: np.ndarray  # (steps + 1, 2)
    losses: np.ndarray  # (steps + 1,)
    grads: np.ndarray  # (steps, 2): gradient at points[t], fed to update t
    updates: np.ndarray  # (steps, 2): points[t + 1] - points[t]
    diverged_at: int | None
    # Only for a ClosureOptimizer (L-BFGS), which evaluates f as often as it needs within a step:
    evaluations: np.ndarray | None = None  # (steps + 1,) evaluations of f done by each step's end
    visited: np.ndarray | None = None  # (evaluations[-1], 2) every point f was evaluated at


class Race(NamedTuple):
    """R runs of one optimizer; arrays as in ``Path`` with a run axis after the step axis."""

    points: np.ndarray  # (steps + 1, R, 2)
    losses: np.ndarray  # (steps + 1, R)
    grads: np.ndarray  # (steps, R, 2)
    updates: np.ndarray  # (steps, R, 2)
    diverged_at: np.ndarray  # (R,) int, -1 where the run did not diverge
    state: Any  # the optimizer's final state (meaningless for diverged runs)
    evaluations: np.ndarray | None = None  # (steps + 1, R), as in Path (ClosureOptimizer only)
    visited: list | None = None  # per run, as in Path

    def path(self, run: int) -> Path:
        """The ``run``-th run as a ``Path``."""
        d = int(self.diverged_at[run])
        return Path(
            self.points[:, run],
            self.losses[:, run],
            self.grads[:, run],
            self.updates[:, run],
            None if d < 0 else d,
            None if self.evaluations is None else self.evaluations[:, run],
            None if self.visited is None else self.visited[run],
        )


def _bad(points: np.ndarray, losses: np.ndarray) -> np.ndarray:
    """True where a point counts as diverged (see the module docstring)."""
    finite = np.all(np.isfinite(points), axis=-1) & np.isfinite(losses)
    # NaN compares False, so non-finite entries are caught by `finite` alone.
    return ~finite | (np.max(np.abs(points), axis=-1) > MAX_ABS_PARAM) | (losses > MAX_LOSS)


def _descend_by_closure(
    optimizer: ClosureOptimizer, surface: Surface, p: np.ndarray, steps: int
) -> Path:
    """``descend`` for an optimizer that calls f itself: the closure it gets records every point
    evaluated, so the path also says how many evaluations each step took, and where."""
    points = np.full((steps + 1, 2), np.nan)
    losses = np.full(steps + 1, np.nan)
    grads = np.full((steps, 2), np.nan)
    evaluations = np.zeros(steps + 1, dtype=int)
    visited = []

    def closure(x):
        visited.append(np.array(x, dtype=float))
        return surface.f(x), surface.grad(x)

    def path(diverged_at):
        evaluations[len(evaluations) if diverged_at is None else diverged_at :] = len(visited)
        trail = np.array(visited).reshape(-1, 2)
        return Path(points, losses, grads, np.diff(points, axis=0), diverged_at, evaluations, trail)

    state = optimizer.init(p)
    loss = surface.f(p)
    if _bad(p, loss):
        return path(0)
    points[0], losses[0] = p, loss
    for t in range(steps):
        grads[t] = surface.grad(p)  # what the step's own first evaluation sees
        new, state = optimizer.step(p, closure, state)
        loss = surface.f(new)
        evaluations[t + 1] = len(visited)
        if _bad(new, loss):
            return path(t + 1)
        points[t + 1], losses[t + 1] = new, loss
        p = new
    return path(None)


def descend(optimizer: Optimizer, surface: Surface, start, steps: int) -> Path:
    """Run ``optimizer`` from ``start`` for ``steps`` updates; stop at the first divergent point."""
    if steps < 0:
        raise ValueError(f"need a non-negative number of steps, got {steps=}")
    if isinstance(optimizer, ClosureOptimizer):
        with np.errstate(all="ignore"):
            return _descend_by_closure(
                optimizer, surface, np.asarray(start, dtype=float).reshape(2), steps
            )
    points = np.full((steps + 1, 2), np.nan)
    losses = np.full(steps + 1, np.nan)
    grads = np.full((steps, 2), np.nan)
    updates = np.full((steps, 2), np.nan)
    p = np.asarray(start, dtype=float).reshape(2)
    state = optimizer.init(p)
    with np.errstate(all="ignore"):
        loss = surface.f(p)
        if _bad(p, loss):
            return Path(points, losses, grads, updates, 0)
        points[0], losses[0] = p, loss
        for t in range(steps):
            g = surface.grad(p)
            new, state = optimizer.update(p, g, state)
            loss = surface.f(new)
            grads[t] = g
            if _bad(new, loss):
                return Path(points, losses, grads, updates, t + 1)
            points[t + 1], losses[t + 1], updates[t] = new, loss, new - p
            p = new
    return Path(points, losses, grads, updates, None)


def _one_per_run(optimizer, runs: int) -> list:
    """The optimizer rebuilt once per run from its recipe: a per-run (runs, 1) hyperparameter
    array (an lr search) gives run r its r-th value."""
    factory, arguments = optimizer.recipe

    def own(value, r):
        per_run = isinstance(value, np.ndarray) and value.shape == (runs, 1)
        return float(value[r, 0]) if per_run else value

    return [factory(**{k: own(v, r) for k, v in arguments.items()}) for r in range(runs)]


def _row_by_row(optimizer: Optimizer, runs: int) -> Optimizer:
    """An optimizer that reads its whole array (``elementwise`` False: Adafactor's RMS) applied
    to each run's point on its own, as ``descend`` would."""
    members = _one_per_run(optimizer, runs)

    def init(points):
        return [m.init(p) for m, p in zip(members, points, strict=True)]

    def update(points, grads, states):
        pairs = [
            m.update(p, g, s) for m, p, g, s in zip(members, points, grads, states, strict=True)
        ]
        return np.array([p for p, _ in pairs]), [s for _, s in pairs]

    return Optimizer(init, update)


def _per_run(value, runs: int) -> np.ndarray | None:
    """``value`` as a (runs, 1) array of one hyperparameter per run, or None if it is not one."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.ndarray | np.number):
        return None
    value = np.asarray(value, dtype=float)
    if value.ndim > 2 or np.broadcast_shapes(value.shape, (runs, 1)) != (runs, 1):
        return None
    return np.broadcast_to(value, (runs, 1))


MAX_SHARED_TABLE = 100_000  # runs x steps of the shared update's coefficient tables (~1.6 MB each)


class _SharedState(NamedTuple):
    step: int
    A: np.ndarray
    B: np.ndarray


def _shared_optimizer(specs: list, runs: int, steps: int) -> Optimizer:
    """One update for optimizers of different kinds (``Shared`` records of core.fast_optimizers).

    Every coefficient becomes a table of shape (steps, rows, 2), or (rows, 2) where it is the
    same at every step, so each step runs ~20 same-shape NumPy operations for all of them.
    """
    rows = runs * len(specs)
    tables = [spec.coefficients(steps) for spec in specs]
    ones = {"c1": 1.0, "d1": 1.0, "c2": 0.0, "d2": 1.0, "e1": 1.0, "k": 1.0, "lr2": 1.0}

    def table(name):
        values = []
        for coefficients in tables:
            value = np.asarray(coefficients.get(name, ones.get(name)), dtype=float)
            values.append(value[:, None] if value.ndim == 1 else value)  # a per-step column
        # A (1, runs) row (e.g. the lrs) is the same at every step: no per-step table.
        per_step = any(v.ndim and v.shape[0] > 1 for v in values)
        full = np.empty((steps if per_step else 1, rows, 2))
        for i, value in enumerate(values):  # broadcasting assignment: a copy, numbers unchanged
            full[:, i * runs : (i + 1) * runs] = value[..., None] if value.ndim else value
        return full if per_step else full[0]

    def constant(values):
        full = np.empty((rows, 2))
        full[...] = np.repeat(np.asarray(values, dtype=float), runs)[:, None]
        return full

    a1, a2, c1, d1, c2, d2, e1, lr, k, lr2 = map(
        table, ("a1", "a2", "c1", "d1", "c2", "d2", "e1", "lr", "k", "lr2")
    )
    wd = constant([s.weight_decay for s in specs])
    b1, b2 = constant([s.b1 for s in specs]), constant([s.b2 for s in specs])
    eps, b0 = constant([s.eps for s in specs]), constant([s.b0 for s in specs])
    l2 = bool(np.any(wd != 0))
    # Skipping a multiplication or division by exactly 1 changes no number.
    has_k, has_d1, has_d2, has_e1, has_lr2 = (bool(np.any(x != 1)) for x in (k, d1, d2, e1, lr2))
    # The rows of each special kind form one block (``_families`` sorts the members by kind).
    kinds = [spec.kind for spec in specs]

    def block(kind):
        ks = [i for i, x in enumerate(kinds) if x == kind]
        return slice(runs * ks[0], runs * (ks[-1] + 1)) if ks else None

    mx, dd = block("max"), block("adadelta")
    # Their constant rows, sliced once here rather than at every step.
    eps_mx = None if mx is None else eps[mx]
    eps_dd, rho_dd, one_minus_rho_dd = (None,) * 3 if dd is None else (eps[dd], b1[dd], b2[dd])
    # One tuple of this step's coefficient rows per step: a single list lookup in the loop.
    # zip iterates the per-step tables in C (a Python loop over t cost ~10 ms at 2,000 steps).
    per_step = list(
        zip(
            *(
                x if x.ndim == 3 else repeat(x, steps)
                for x in (a1, a2, c1, d1, c2, d2, e1, lr, k, lr2)
            ),
            strict=False,
        )
    )

    def init(params):
        return _SharedState(0, np.zeros((rows, 2)), b0.copy())

    # Private to race, which keeps only the latest state and copies the last one out: A and B
    # alternate between two preallocated pairs (step t writes pair t % 2 and reads the other),
    # the returned params are a scratch buffer race copies at once, and every row block is a
    # view made once here. Same operations in the same order; only the allocations are gone.
    pairs = [(np.empty((rows, 2)), np.empty((rows, 2))) for _ in range(2)]
    scratch = np.empty((rows, 2)), np.empty((rows, 2)), np.empty((rows, 2))  # tmp, num, den
    if mx is not None:
        mx_scratch = [B[mx] for _, B in pairs], scratch[2][mx], np.empty_like(eps_mx)
    if dd is not None:
        dd_scratch = (
            [A[dd] for A, _ in pairs],
            [B[dd] for _, B in pairs],
            scratch[1][dd],
            np.empty_like(eps_dd),
            np.empty_like(eps_dd),
        )

    def update(p, g, state):
        t = state.step
        A1, A2, C1, D1, C2, D2, E1, LR, K, LR2 = per_step[t]
        A, B = pairs[t & 1]
        tmp, num, den = scratch
        if l2:
            g = g + wd * p
        np.multiply(state.A, A1, out=A)
        np.multiply(A2, g, out=tmp)
        A += tmp
        np.multiply(state.B, b1, out=B)
        np.multiply(b2, g, out=tmp)
        tmp *= g
        B += tmp
        if mx is not None:  # Adamax: u = max(beta2·u, |g| + eps), torch's eps inside the max
            u_views, den_mx, abs_mx = mx_scratch
            u = u_views[t & 1]
            np.abs(g[mx], out=abs_mx)
            abs_mx += eps_mx
            np.maximum(u, abs_mx, out=u)
        np.multiply(C1, A, out=num)
        if has_d1:
            num /= D1
        np.multiply(C2, g, out=tmp)
        if has_d2:
            tmp /= D2
        num += tmp
        if has_e1:
            np.divide(B, E1, out=den)
        else:
            np.copyto(den, B)
        np.sqrt(den, out=den)
        den += eps
        if mx is not None:
            np.copyto(den_mx, u)
        num *= LR
        num /= den
        if has_lr2:
            num *= LR2
        if dd is not None:  # Adadelta, in its own order of operations
            acc_views, sq_views, num_dd, delta, rms = dd_scratch
            acc = state.A[dd]
            np.add(acc, eps_dd, out=delta)
            np.sqrt(delta, out=delta)
            np.add(sq_views[t & 1], eps_dd, out=rms)
            np.sqrt(rms, out=rms)
            delta /= rms
            delta *= g[dd]
            np.multiply(delta, LR[dd], out=num_dd)
            new_acc = acc_views[t & 1]
            np.multiply(acc, rho_dd, out=new_acc)
            np.multiply(one_minus_rho_dd, delta, out=rms)
            rms *= delta
            new_acc += rms
        base = p * K if has_k else p
        return np.subtract(base, num, out=num), _SharedState(t + 1, A, B)

    return Optimizer(init, update)


def _families(
    optimizers: Sequence[Optimizer], runs: int, steps: int = 0
) -> list[tuple[Optimizer, list[int]]]:
    """Group optimizers into fused ones: ``[(optimizer, member indices)]``, first-seen order.

    Optimizers with a ``Shared`` record (SGD, Adagrad, plain RMSprop, Adadelta, Adam, AdamW,
    NAdam, Adamax with scalar settings) form one family first when there are two or more and the
    tables stay small.
    """
    families, taken = [], set()
    paths = [fast_paths(opt) for opt in optimizers]
    shared = [
        k
        for k, p in enumerate(paths)
        if p.shared is not None and _per_run(p.shared.lr, runs) is not None
    ]
    # Rows of one special kind must be contiguous; the race keeps the members' order for rows.
    order = {"sqrt": 0, "max": 1, "adadelta": 2}
    shared.sort(key=lambda k: order[paths[k].shared.kind])
    if len(shared) >= 2 and steps and len(shared) * runs * steps <= MAX_SHARED_TABLE:
        specs = [paths[k].shared for k in shared]
        families.append((_shared_optimizer(specs, runs, steps), shared))
        taken = set(shared)
    groups: dict[Any, list[int]] = {}
    for k, fusion in enumerate(p.fusion for p in paths):
        if k in taken:
            continue
        ok = fusion is not None and all(
            _per_run(v, runs) is not None for v in fusion.hyperparameters.values()
        )
        groups.setdefault(fusion.key if ok else ("alone", k), []).append(k)
    for members in groups.values():
        if len(members) == 1:
            families.append((optimizers[members[0]], members))
            continue
        fusions = [paths[k].fusion for k in members]
        stacked = {}
        for name in fusions[0].hyperparameters:
            values = [f.hyperparameters[name] for f in fusions]
            if all(np.ndim(v) == 0 for v in values) and len({float(v) for v in values}) == 1:
                stacked[name] = values[0]  # one shared scalar keeps the scalar fast paths
            else:
                stacked[name] = np.concatenate([_per_run(v, runs) for v in values])
        families.append((fusions[0].build(**stacked), members))
    return families


def _take(state, rows: slice, total: int):
    """One member's rows of a fused optimizer state (arrays with a run axis are sliced)."""
    if state is None or not isinstance(state, tuple):
        return state
    return type(state)(
        *(
            x[rows] if isinstance(x, np.ndarray) and x.ndim and x.shape[0] == total else x
            for x in state
        )
    )


def _race_by_closure(optimizer: ClosureOptimizer, surface, starts, steps: int) -> Race:
    """R runs of an optimizer that calls f itself, one ``descend`` each, stacked as a Race."""
    paths = [
        descend(member, surface, start, steps)
        for member, start in zip(_one_per_run(optimizer, len(starts)), starts, strict=True)
    ]
    return Race(
        *(np.stack([getattr(p, field) for p in paths], axis=1) for field in Path._fields[:4]),
        np.array([-1 if p.diverged_at is None else p.diverged_at for p in paths]),
        None,
        np.stack([p.evaluations for p in paths], axis=1),
        [p.visited for p in paths],
    )


def race(optimizers: Sequence[Optimizer], surface: Surface, starts, steps: int) -> list[Race]:
    """Run every optimizer on R runs from ``starts`` (shape (R, 2), or (2,) for R = 1) at once;
    a ClosureOptimizer (L-BFGS) runs each of its runs on its own."""
    if steps < 0:
        raise ValueError(f"need a non-negative number of steps, got {steps=}")
    starts = np.asarray(starts, dtype=float)
    starts = starts.reshape(1, 2) if starts.ndim == 1 else starts
    if starts.ndim != 2 or starts.shape[1] != 2:
        raise ValueError(f"starts must have shape (R, 2) or (2,), got {starts.shape=}")
    by_closure = [isinstance(opt, ClosureOptimizer) for opt in optimizers]
    raced = iter(_race_updates([o for o, c in zip(optimizers, by_closure, strict=True) if not c],
                               surface, starts, steps))  # fmt: skip
    return [
        _race_by_closure(opt, surface, starts, steps) if closure else next(raced)
        for opt, closure in zip(optimizers, by_closure, strict=True)
    ]


def _race_updates(optimizers: Sequence[Optimizer], surface: Surface, starts, steps: int):
    """``race`` for (init, update) optimizers: every run in one buffer, one loop over the steps."""
    if not optimizers:
        return []
    runs = len(starts)
    optimizers = [opt if opt.elementwise else _row_by_row(opt, runs) for opt in optimizers]
    families = _families(optimizers, runs, steps)
    # All runs live in one buffer, family by family, so each step needs a single surface call.
    slices, family_slices, row = [None] * len(optimizers), [], 0
    for _, members in families:
        family_slices.append(slice(row, row + runs * len(members)))
        for k in members:
            slices[k] = slice(row, row + runs)
            row += runs
    points = np.empty((steps + 1, runs * len(optimizers), 2))
    grads = np.empty((steps, *points.shape[1:]))
    points[0] = np.tile(starts, (len(optimizers), 1))
    states = [
        opt.init(points[0, s].copy()) for (opt, _), s in zip(families, family_slices, strict=True)
    ]
    # The loop sets errstate once, so the updates' own guards can go (fast paths have none).
    updates = [fast_paths(opt).update for opt, _ in families]
    with np.errstate(all="ignore"):
        # Diverged runs keep computing (with inf/NaN); runs are independent, so they are masked
        # afterwards, which gives the same result as stopping each run at its first bad point.
        grad = surface.grad
        if len(families) == 1:  # one fused update for every run: no slicing, no inner loop
            (update,), (state,) = updates, states
            for t in range(steps):
                p = points[t]
                g = grads[t] = grad(p)
                points[t + 1], state = update(p, g, state)
            states = [state]
        else:
            for t in range(steps):
                p = points[t]
                g = grads[t] = grad(p)
                for k, (update, s) in enumerate(zip(updates, family_slices, strict=True)):
                    points[t + 1, s], states[k] = update(p[s], g[s], states[k])
        losses = surface.f(points)
        bad = _bad(points, losses)
        diverged_at = np.where(bad.any(axis=0), bad.argmax(axis=0), -1)
        after = np.arange(steps + 1)[:, None] >= np.where(diverged_at < 0, steps + 1, diverged_at)
        points[after] = np.nan
        losses[after] = np.nan
        grads[after[:-1]] = np.nan
        updates = np.diff(points, axis=0)
    member_states = [None] * len(optimizers)
    for (_, members), s, state in zip(families, family_slices, states, strict=True):
        for k in members:
            rows = slice(slices[k].start - s.start, slices[k].stop - s.start)
            if isinstance(state, _SharedState):  # back to the member's own state record
                own = fast_paths(optimizers[k]).shared.state(
                    state.step, state.A[rows], state.B[rows]
                )
                member_states[k] = own
            else:
                member_states[k] = (
                    state if len(members) == 1 else _take(state, rows, s.stop - s.start)
                )
    return [
        Race(points[:, s], losses[:, s], grads[:, s], updates[:, s], diverged_at[s], state)
        for s, state in zip(slices, member_states, strict=True)
    ]


class LrSearch(NamedTuple):
    lrs: np.ndarray  # the grid searched
    final_losses: np.ndarray  # loss after `steps` updates per lr, NaN where diverged
    diverged_at: np.ndarray  # per lr, -1 where the run did not diverge
    best_lr: float | None  # None if every run diverged
    best_index: int | None
    steps: int
    criterion: str = "lowest final loss among runs that did not diverge; ties to the smaller lr"


def best_learning_rate(
    make_optimizers: Sequence[Callable[[np.ndarray], Optimizer]],
    surface: Surface,
    start,
    steps: int,
    lrs=LR_GRID,
) -> list[LrSearch]:
    """Search ``lrs`` for each ``make(lr) -> Optimizer``, all optimizers and lrs in one race.

    Each maker receives the lrs as an array of shape (len(lrs), 1), e.g.
    ``lambda lr: OPTIMIZERS["adam"](lr=lr, betas=(0.9, 0.999))``.
    """
    lrs = np.asarray(lrs, dtype=float)
    if lrs.ndim != 1 or lrs.size == 0 or np.any(lrs <= 0):
        raise ValueError(f"lrs must be a non-empty 1-D array of positive values, got {lrs=}")
    starts = np.broadcast_to(np.asarray(start, dtype=float), (lrs.size, 2))
    optimizers = [make(lrs[:, None]) for make in make_optimizers]
    results = []
    for r in race(optimizers, surface, starts, steps):
        final = r.losses[-1]  # NaN exactly where the run diverged
        ok = np.isfinite(final)
        best = int(np.nanargmin(final)) if ok.any() else None  # first minimum: the smaller lr
        results.append(
            LrSearch(
                lrs,
                final,
                r.diverged_at,
                None if best is None else float(lrs[best]),
                best,
                steps,
            )
        )
    return results


class ConvergenceMap(NamedTuple):
    steps_to_reach: (
        np.ndarray
    )  # (len(momenta), len(lrs)) int: first step meeting the target, -1 never
    diverged_at: np.ndarray  # same shape: first divergent step, -1 if none before reaching
    lrs: np.ndarray
    momenta: np.ndarray
    steps: int
    eps: float
    criterion: str  # "loss": f - f_min < eps; "distance": within eps of a listed minimum


def convergence_map(
    surface: Surface,
    lrs,
    momenta,
    steps: int,
    eps: float = 1e-3,
    start=None,
    criterion: str = "loss",
    nesterov: bool = False,
) -> ConvergenceMap:
    """Steps SGD with momentum needs to reach the minimum, for every (momentum, lr) pair at once.

    A run is finished once it reaches the target or diverges; both are recorded per cell.
    ``start`` defaults to ``surface.start``. ``nesterov`` needs every momentum > 0 (as torch).
    """
    if criterion == "loss" and surface.f_min is None:
        raise ValueError(f"criterion 'loss' needs a surface with a known minimum, {surface.name=}")
    if criterion == "distance" and not surface.minima:
        raise ValueError(f"criterion 'distance' needs listed minima, {surface.name=}")
    if criterion not in ("loss", "distance"):
        raise ValueError(f"unknown {criterion=}")
    lrs = np.asarray(lrs, dtype=float)
    momenta = np.asarray(momenta, dtype=float)
    shape = (momenta.size, lrs.size)
    lr_grid, momentum_grid = np.meshgrid(lrs, momenta)  # both of `shape`
    optimizer = sgd(
        lr=lr_grid.reshape(-1, 1), momentum=momentum_grid.reshape(-1, 1), nesterov=nesterov
    )
    p = np.tile(
        np.asarray(surface.start if start is None else start, dtype=float), (lr_grid.size, 1)
    )
    minima = np.asarray(surface.minima, dtype=float).reshape(-1, 2)
    state, update = optimizer.init(p), fast_paths(optimizer).update
    reached = np.full(lr_grid.size, -1)
    diverged = np.full(lr_grid.size, -1)
    with np.errstate(all="ignore"):
        for t in range(steps + 1):
            loss = surface.f(p)
            if criterion == "loss":
                hit = loss - surface.f_min < eps
            else:
                distance = np.linalg.norm(p[:, None, :] - minima[None], axis=-1).min(axis=1)
                hit = distance < eps
            open_ = (reached < 0) & (diverged < 0)
            bad = _bad(p, loss)
            diverged = np.where(open_ & bad, t, diverged)
            reached = np.where(open_ & ~bad & hit, t, reached)
            if t == steps or not np.any((reached < 0) & (diverged < 0)):
                break
            p, state = update(p, surface.grad(p), state)
    return ConvergenceMap(
        reached.reshape(shape), diverged.reshape(shape), lrs, momenta, steps, eps, criterion
    )
