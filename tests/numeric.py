"""Central-difference gradients: the reference of the gradient tests, shared by no core code."""

import numpy as np


def numeric_grad(loss, arr: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """d loss() / d arr, one entry at a time: ``arr`` is nudged in place and restored after each."""
    g = np.zeros_like(arr)
    for i in np.ndindex(arr.shape):
        old = arr[i]
        arr[i] = old + eps
        plus = loss()
        arr[i] = old - eps
        minus = loss()
        arr[i] = old
        g[i] = (plus - minus) / (2 * eps)
    return g
