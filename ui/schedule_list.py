"""The schedules page's list of schedules: the places s1 … s8 with their default kinds, each
schedule's fields built from the registry, the callbacks of the add, copy, remove and preset
buttons, and a schedule's card."""

import streamlit as st

from core.params import Param
from core.schedules import LR_PARAM, SCHEDULE_ENTRIES, SCHEDULE_PARAMS, TORCH_CLASS
from ui.fields import Field, field, widget_for
from ui.i18n import load_locale, t

KINDS = tuple(k for k in SCHEDULE_ENTRIES if k != "sequential_lr")  # chains have their own panel
IDS = tuple(f"s{i}" for i in range(1, 9))
LIST_KEY = "sch"
DEFAULT_IDS = ["s1", "s2"]
DEFAULT_KINDS = dict(zip(IDS, ("step_lr", "cosine_annealing_lr", "exponential_lr",
    "cosine_annealing_warm_restarts", "one_cycle_lr", "cyclic_lr", "polynomial_lr", "linear_lr"),
    strict=True))  # fmt: skip


# What an empty number field (torch's None) means, as the field's placeholder.
EMPTY_MEANS = {"step_size_down": "schedules.same_as_up", "total_steps": "schedules.from_epochs"}


def kind_label(kind: str) -> str:
    return f"{TORCH_CLASS[kind]} — {t(f'schedules.kind.{kind}')}"


def schedule_key(sid: str, name: str) -> str:
    return f"sch_{sid}_{name}"


def kind_field(sid: str) -> dict[str, Field]:
    """The choice of schedule ``sid``'s kind (labelled with its number where it is drawn)."""
    kind = Param("choice", DEFAULT_KINDS[sid], options=KINDS)
    return {schedule_key(sid, "kind"): Field(kind, "select", None, option_labels=kind_label)}


def help_key(kind: str, name: str) -> str:
    """The help text of parameter ``name``: the kind's own (ReduceLROnPlateau's ``factor`` is not
    ConstantLR's) if it has one, else the one shared by every schedule with that parameter."""
    own = f"schedules.help.{kind}.{name}"
    return own if own in load_locale("en") else f"schedules.help.{name}"


def param_fields(sid: str, kind: str) -> dict[str, Field]:
    """lr and the registry's parameters of ``kind`` in schedule ``sid``, shown by torch name.
    A chain of schedulers is no setting of the card: ChainedScheduler's is the registry's own."""
    return {
        schedule_key(sid, name): Field(param, widget_for(param), None, help_key(kind, name))
        for name, param in ({"lr": LR_PARAM} | SCHEDULE_PARAMS[kind]).items()
        if name != "schedulers"
    }


def chain_text(schedulers) -> str:
    """ "ConstantLR(factor=0.1, total_iters=20) × ExponentialLR(gamma=0.97)" for a chain."""
    return " × ".join(
        f"{TORCH_CLASS[name]}({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})"
        for name, kwargs in schedulers
    )


def schedule_values(sid: str, kind: str, lr: float = 0.1, **params) -> dict:
    """Session values for schedule ``sid``: ``kind``, ``lr`` and every parameter (defaults + given)."""
    values = {schedule_key(sid, "kind"): kind, schedule_key(sid, "lr"): lr}
    for name, param in SCHEDULE_PARAMS[kind].items():
        values[schedule_key(sid, name)] = params.get(name, param.default)
    return values


def forget(sid: str) -> None:
    """Every setting of schedule ``sid``, so that a new one there starts from its defaults."""
    for key in [k for k in st.session_state if str(k).startswith(f"sch_{sid}_")]:
        del st.session_state[key]


def add_schedule() -> None:
    """A new schedule in the first free place, of that place's default kind."""
    ids = list(st.session_state[LIST_KEY])
    new = next(i for i in IDS if i not in ids)
    forget(new)
    st.session_state.update(schedule_values(new, DEFAULT_KINDS[new]))
    st.session_state[LIST_KEY] = [*ids, new]


def duplicate_schedule(source: str) -> None:
    """A copy of schedule ``source`` in the first free place."""
    ids = list(st.session_state[LIST_KEY])
    new = next(i for i in IDS if i not in ids)
    forget(new)
    prefix = f"sch_{source}_"
    for key in [k for k in st.session_state if str(k).startswith(prefix)]:
        st.session_state[schedule_key(new, key[len(prefix) :])] = st.session_state[key]
    st.session_state[LIST_KEY] = [*ids, new]


def remove_schedule(sid: str) -> None:
    """Schedule ``sid`` off the list; its settings are cleared when its place is used again."""
    st.session_state[LIST_KEY] = [i for i in st.session_state[LIST_KEY] if i != sid]


def seed_five_values(total: int) -> dict:
    """The classic five for ``total`` steps: fixed, step, exponential, cosine, warm restarts."""
    quarter = max(total // 4, 1)
    values = {LIST_KEY: list(IDS[:5])}
    values |= schedule_values("s1", "constant_lr", factor=1.0)
    values |= schedule_values("s2", "step_lr", step_size=quarter, gamma=0.5)
    values |= schedule_values("s3", "exponential_lr", gamma=round(0.01 ** (1 / total), 4))
    values |= schedule_values("s4", "cosine_annealing_lr", T_max=total)
    values |= schedule_values("s5", "cosine_annealing_warm_restarts", T_0=quarter)
    return values


def apply_seed_five() -> None:
    """The classic five for the current number of steps."""
    st.session_state.update(seed_five_values(int(st.session_state["sch_total"])))


def schedule_card(index: int, sid: str, full: bool, projector: bool) -> tuple[str, float, tuple]:
    """Schedule ``sid``'s card: its kind, copy and remove buttons, lr and parameters."""
    # A row that gives the two icon buttons their own width and the kind the rest: fixed column
    # shares cut the icons in a projector's narrow card.
    with st.container(horizontal=True, vertical_alignment="bottom"):
        label = t("schedules.schedule_n", n=index + 1)
        kind = field(kind_field(sid), schedule_key(sid, "kind"), label=label)
        st.button("", key=f"_sch_dup_{sid}", icon=":material/content_copy:", disabled=full,
                  help=t("schedules.duplicate"), on_click=duplicate_schedule, args=(sid,),
                  width="content")  # fmt: skip
        st.button("", key=f"_sch_rm_{sid}", icon=":material/delete:", help=t("schedules.remove"),
                  on_click=remove_schedule, args=(sid,), width="content")  # fmt: skip
    own = param_fields(sid, kind)
    if kind in ("cyclic_lr", "one_cycle_lr"):  # those two ignore lr, as in torch
        del own[schedule_key(sid, "lr")]
    columns = st.columns(2 if projector else 3)
    values = {}
    for j, (key, f) in enumerate(own.items()):
        name = key.removeprefix(f"sch_{sid}_")
        empty = {"placeholder": t(EMPTY_MEANS[name])} if f.param.default is None else {}
        with columns[j % len(columns)]:
            values[name] = field(own, key, label=name, **empty)
    if "schedulers" in SCHEDULE_PARAMS[kind]:
        values["schedulers"] = SCHEDULE_PARAMS[kind]["schedulers"].default
        st.caption(t("schedules.chained_children", chain=chain_text(values["schedulers"])))
    lr = float(values.pop("lr", None) or 0.1)
    return kind, lr, tuple(values.items())
