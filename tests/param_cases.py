"""The settings a registry test runs an entry at, read from the entry's ``core.params.Param`` table."""

from core.params import Param


def defaults(params: dict[str, Param]) -> dict:
    """Every parameter at its default."""
    return {name: spec.default for name, spec in params.items()}


def param_sets(params: dict[str, Param]) -> list[dict]:
    """Defaults, then each parameter moved alone to an interior value or to another option."""
    sets = [defaults(params)]
    for name, spec in params.items():
        if spec.kind == "choice":
            values = [o for o in spec.options if o != spec.default]
        else:
            values = [spec.low + 0.3 * (spec.high - spec.low)]
        sets += [{**defaults(params), name: v} for v in values]
    return sets
