"""Learning-rate schedules as pure functions of the step.

A schedule maps the number of scheduler ``step()`` calls ``t`` (an int or an integer array) to the
learning rate in force, exactly as ``get_last_lr()`` of the matching ``torch.optim.lr_scheduler``
class would report it; ``t = 0`` is the initial lr. Factories take torch's argument names.
"""

from collections.abc import Callable

import numpy as np

Schedule = Callable[[np.ndarray | int], np.ndarray | float]


def as_schedule(lr: float | Schedule) -> Schedule:
    """Return ``lr`` unchanged if it is already a schedule, else a constant schedule."""
    if callable(lr):
        return lr
    value = float(lr)
    return lambda t: np.full(np.shape(t), value) if np.ndim(t) else value
