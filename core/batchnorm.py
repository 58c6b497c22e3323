"""Batch normalization over the batch axis of an ``(N, D)`` array, as ``torch.nn.BatchNorm1d``.

Train mode normalizes with the batch mean and the *biased* batch variance and returns running
stats updated with torch's convention ``running = (1 − momentum)·running + momentum·batch``
(``momentum=0.1``), where the running variance takes the *unbiased* batch variance (N − 1 divisor),
exactly as torch does.
Eval mode normalizes with the running stats. ``eps=1e-5``. Pure: the running stats passed in are
never mutated; new ones are returned. Reference: Ioffe & Szegedy 2015.
"""

from typing import NamedTuple

import numpy as np


class RunningStats(NamedTuple):
    """Running mean and variance of one batch-norm layer, shape ``(D,)`` each."""

    mean: np.ndarray
    var: np.ndarray


class BatchNormCache(NamedTuple):
    """What the backward pass needs: the normalized input, 1/sqrt(var + eps), gamma and the mode."""

    x_hat: np.ndarray
    inv_std: np.ndarray
    gamma: np.ndarray
    train: bool


def init_running_stats(dim: int, dtype=np.float32) -> RunningStats:
    """torch's initial running stats: mean 0, variance 1."""
    return RunningStats(np.zeros(dim, dtype=dtype), np.ones(dim, dtype=dtype))


def batch_norm_forward(
    x: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    running: RunningStats,
    *,
    train: bool,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> tuple[np.ndarray, BatchNormCache, RunningStats]:
    """Return ``(y, cache, new_running)`` with ``y = gamma·x_hat + beta``."""
    if train:
        n = x.shape[0]
        if n < 2:
            # torch raises too: one sample has no variance to normalize by.
            raise ValueError(f"batch norm in train mode needs more than one sample, got {n=}")
        mean = x.mean(axis=0)
        var = x.var(axis=0)  # biased (divide by N): what normalizes the batch
        unbiased = var * (n / (n - 1))  # what torch feeds the running variance
        new_running = RunningStats(
            ((1 - momentum) * running.mean + momentum * mean).astype(x.dtype, copy=False),
            ((1 - momentum) * running.var + momentum * unbiased).astype(x.dtype, copy=False),
        )
    else:
        mean, var, new_running = running.mean, running.var, running
    inv_std = 1.0 / np.sqrt(var + eps)
    x_hat = (x - mean) * inv_std
    return gamma * x_hat + beta, BatchNormCache(x_hat, inv_std, gamma, train), new_running


def batch_norm_backward(
    dy: np.ndarray, cache: BatchNormCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return ``(dx, dgamma, dbeta)`` for upstream gradient ``dy``."""
    dgamma = (dy * cache.x_hat).sum(axis=0)
    dbeta = dy.sum(axis=0)
    dx_hat = dy * cache.gamma
    if not cache.train:
        # Running stats are constants in eval mode, so normalization is just an affine map.
        return dx_hat * cache.inv_std, dgamma, dbeta
    # Train mode: mean and variance depend on every sample; this is the usual closed form of the
    # chain rule through both (x_hat-weighted term: via the variance; plain sum: via the mean).
    n = dy.shape[0]
    dx = (cache.inv_std / n) * (
        n * dx_hat - dx_hat.sum(axis=0) - cache.x_hat * (dx_hat * cache.x_hat).sum(axis=0)
    )
    return dx, dgamma, dbeta
