"""Every entry of every registry has its name in both languages, the formula users see and the
equivalent torch code: adding an entry without one of them fails here, not in front of a class."""

import pytest

from core.activations import ACTIVATIONS
from core.activations import TORCH_NAMES as ACTIVATION_TORCH
from core.initializers import INITIALIZERS, torch_call
from core.losses import LOSSES
from core.losses import TORCH_NAMES as LOSS_TORCH
from core.optimizers import OPTIMIZER_ENTRIES
from core.schedules import SCHEDULE_ENTRIES, TORCH_CLASS
from ui.formulas import (
    ACTIVATION_FORMULAS,
    INITIALIZER_FORMULAS,
    LOSS_FORMULAS,
    OPTIMIZER_FORMULAS,
    SCHEDULE_FORMULAS,
)
from ui.i18n import LANGUAGES, load_locale

# registry, the locale key of an entry's name, its formulas, its torch code
REGISTRIES = {
    "activations": (ACTIVATIONS, "activations.names.{}", ACTIVATION_FORMULAS, ACTIVATION_TORCH.get),
    "losses": (LOSSES, "activations.names.{}", LOSS_FORMULAS, LOSS_TORCH.get),
    "initializers": (INITIALIZERS, "initialization.init_name.{}", INITIALIZER_FORMULAS, torch_call),
    "schedules": (SCHEDULE_ENTRIES, "schedules.kind.{}", SCHEDULE_FORMULAS, TORCH_CLASS.get),
    "optimizers": (
        OPTIMIZER_ENTRIES,
        "optimizers.names.{}",
        OPTIMIZER_FORMULAS,
        lambda key: OPTIMIZER_ENTRIES[key].torch_call,
    ),
}
ENTRIES = [(registry, key) for registry, (entries, *_) in REGISTRIES.items() for key in entries]


@pytest.mark.parametrize(("registry", "key"), ENTRIES, ids=[f"{r}-{k}" for r, k in ENTRIES])
def test_an_entry_has_its_names_formula_and_torch_code(registry, key):
    _, name_key, formulas, torch_code = REGISTRIES[registry]
    for locale in sorted(set(LANGUAGES.values())):
        assert load_locale(locale).get(name_key.format(key), "").strip(), (locale, key)
    assert formulas.get(key, "").strip(), key
    assert "torch" in (torch_code(key) or "") or (torch_code(key) or "")[:1].isupper(), key


@pytest.mark.parametrize("registry", REGISTRIES)
def test_no_formula_for_an_entry_that_does_not_exist(registry):
    entries, _, formulas, _ = REGISTRIES[registry]
    assert set(formulas) <= set(entries)
