"""The MNIST page's setting panels: the data (with uploads and the full-MNIST download), the
network and optimizer, and the training buttons. Each draws its page's ``ui.fields`` fields where
they belong and returns plain values; none of them decides anything core.mnist_setup can.
"""

from collections.abc import Mapping
from typing import Any, NamedTuple

import pandas as pd
import streamlit as st

from core import download
from core.activations import ACTIVATION_PARAMS, TORCH_NAMES
from core.datasets import Dataset, DatasetError, Split
from core.mnist_setup import (
    MAX_LAYERS,
    MAX_WIDTH,
    Budget,
    Network,
    architecture_text,
    checked_hyperparameters,
    nearest,
    parse_hidden,
)
from core.network import layer_table, parameter_count, torch_modules
from core.session import can_go_on, data_source, pause, reset, restore_best, start, used_data
from core.session import epoch as one_epoch
from core.session import step as one_step
from core.training import TrainConfig
from ui.controls import show_code
from ui.fields import Field, field, fields_in_columns
from ui.i18n import t
from ui.mnist_session import (
    load_dataset,
    on,
    on_reset_lower_lr,
    read_uploads,
    save,
    session,
    with_train_size,
)
from ui.mnist_upload import NAME as UPLOAD
from ui.theme import PlotStyle

Fields = Mapping[str, Field]
# Seconds the "One epoch" click trains; the rest of the epoch runs in the live view's ticks
# (6 × 1024 units with batch size 1 took minutes, and held the session 11 s per click).
EPOCH_BUDGET = 1.5


class DataInUse(NamedTuple):
    """The data the network trains on: ``name`` may differ from the one chosen (see data_why)."""

    data: Dataset
    name: str
    id: Any  # names the data in the architecture key: an upload's file ids make a new one
    train_size: int
    n_max: int  # the training images there are


def data_panel(fields: Fields, style: PlotStyle) -> DataInUse:
    """The dataset, the training-set size and a note on what is in use (and why, if not chosen)."""
    st.subheader(t("mnist.data_heading"))
    if style.projector:
        c_data, c_size = st.columns(2)
        c_note = st.container()
    else:
        c_data, c_size, c_note = st.columns([2, 2, 3])
    with c_data:
        chosen = field(fields, "mn_data")
    if chosen == UPLOAD:
        upload_box(c_note)
    full, name, why = resolve_data(chosen)
    n_max = len(full.train.y)
    with c_size:
        train_size = train_size_slider(fields, n_max)
    if name == UPLOAD:
        data = full._replace(train=Split(full.train.x[:train_size], full.train.y[:train_size]))
    else:
        data = with_train_size(name, train_size)
    with c_note:
        data_note(data, name, chosen, why)
    if chosen == "mnist" and name != "mnist":
        download_button()
    data_id = (name, session().upload.ids) if name == UPLOAD else name
    return DataInUse(data, name, data_id, train_size, n_max)


def upload_box(c_note) -> None:
    """The uploader of the visitor's own files, and why the last upload was refused."""
    with c_note:
        files = st.file_uploader(
            t("mnist.upload_label"),
            key="_mn_upload",
            accept_multiple_files=True,
            help=t("mnist.upload_help"),
        )
    read_uploads(files or [])
    if (problem := session().upload_error) is not None:
        code, names = problem
        c_note.error(
            t("mnist.upload_failed", files=names, problem=t(f"mnist.upload_error.{code}")),
            icon=":material/error:",
        )


def resolve_data(chosen: str) -> tuple[Dataset, str, str]:
    """The full dataset in use, its name and why (core.session.data_source's reasons): with no
    valid upload yet, the data in use before stays, and the network with it."""
    source, why = data_source(session(), chosen, UPLOAD)
    if source == UPLOAD:
        return session().upload.dataset, UPLOAD, why
    try:
        full = load_dataset(source)
    except DatasetError as error:
        st.error(t("mnist.data_error", code=t(f"mnist.dataset_error.{error.code}")))
        full, why = None, "broken"
    if full is None:
        why = why if why in ("broken", "no_upload") else "missing"
        name, full = "mnist_builtin", load_dataset("mnist_builtin")
    else:
        name = source
    save(used_data(session(), name))
    return full, name, why


def train_size_slider(fields: Fields, n_max: int) -> int:
    """How many training images to use, at most ``n_max``."""
    if n_max <= fields["mn_train_size"].param.low:
        # An upload this small has nothing to choose from: all of it is used, and the
        # slider's value is left alone for the next data.
        st.caption(t("mnist.train_size_all", n=f"{n_max:,}"))
        return n_max
    if st.session_state.get("mn_train_size", fields["mn_train_size"].param.default) > n_max:
        st.session_state["mn_train_size"] = n_max
    return min(int(field(fields, "mn_train_size", max_value=n_max)), n_max)


def data_note(data: Dataset, name: str, chosen: str, why: str) -> None:
    """The sizes of the splits in use, and why the chosen data is not the one in use."""
    st.markdown(
        t(
            f"mnist.data_note.{name}",
            train=f"{len(data.train.y):,}",
            val=f"{len(data.val.y):,}",
            test=f"{len(data.test.y):,}",
            files=session().upload.names if name == UPLOAD else "",
            size="×".join(str(n) for n in data.image_shape),
        )
    )
    if why != "chosen":
        st.info(
            t(
                f"mnist.data_why.{why}",
                wanted=t(f"mnist.data.{chosen}"),
                used=t(f"mnist.data.{name}"),
            )
        )


def download_button() -> None:
    """Download full MNIST into the cache folder on request, with a progress bar."""
    if st.button(t("mnist.download"), key="_mn_download", icon=":material/download:"):
        bar = st.progress(0.0, text=t("mnist.downloading"))

        def report(done: int, total: int | None) -> None:
            if total:
                bar.progress(min(done / total, 1.0), text=t("mnist.downloading"))

        # Looked up when pressed, not at import, so a test can stand in for the network.
        result = download.download_mnist(download.data_dir(), progress=report)
        if result.ok:
            load_dataset.clear()
            with_train_size.clear()
            st.rerun()
        st.error(t(f"mnist.download_error.{result.code}"))


def network_panel(fields: Fields, entry_fields: Fields, style: PlotStyle) -> Network:
    """Architecture, regularisation, batch, seed, optimizer, lr and schedule; then the chosen
    optimizer's and schedule's own parameters (``entry_fields``) in an expander."""
    st.subheader(t("mnist.network_heading"))
    c_family, c_layers = st.columns([1, 3]) if not style.projector else (st.container(),) * 2
    with c_family:
        family = field(fields, "mn_arch")
    with c_layers:
        hidden, conv = layer_settings(fields, family)
    c2, c3, c4 = st.columns(3)
    with c2:
        activation, initializer = field(fields, "mn_act"), field(fields, "mn_init")
    with c3:
        dropout, batch_norm = field(fields, "mn_dropout"), field(fields, "mn_bn")
        augment = field(fields, "mn_augment")
    with c4:
        batch, seed = field(fields, "mn_batch"), field(fields, "mn_seed")
    optimizer, lr, schedule = fields_in_columns(
        st.columns([2, 3, 3]), fields, ("mn_opt", "mn_lr", "mn_sched")
    )
    with st.expander(t("mnist.hyperparameters", name=t(f"optimizers.names.{optimizer}"))):
        hps, schedule_params = entry_inputs(entry_fields, optimizer, schedule)
    hps, problem = checked_hyperparameters(optimizer, lr, hps)
    if problem is not None:
        st.warning(t("mnist.invalid_hp", message=problem))
    return Network(
        hidden, activation, initializer, dropout, bool(batch_norm), batch, seed,
        optimizer, lr, schedule, hps, schedule_params, family, conv, bool(augment),
    )  # fmt: skip


def layers_table(config: TrainConfig) -> None:
    """Each layer as its torch module, with its output shape, parameters, receptive field and
    multiply-adds (none counted for a layer without weights)."""
    arch = config.architecture
    defaults = {k: p.default for k, p in ACTIVATION_PARAMS[config.activation].items()}
    call = TORCH_NAMES[config.activation].format(**defaults)
    rows = layer_table(arch)
    modules = torch_modules(arch, call, config.dropout)
    with st.expander(t("mnist.layers_heading"), expanded=len(arch.input_shape) == 3):
        st.caption(t("mnist.layers_help"))
        table = {
            t("mnist.layers_layer"): [m.removeprefix("torch.nn.") for m in modules],
            t("mnist.layers_shape"): ["×".join(map(str, r.output_shape)) for r in rows],
            t("mnist.layers_params"): [f"{r.parameters:,}" for r in rows],
            t("mnist.layers_field"): [
                t("mnist.layers_all") if r.receptive_field is None else f"{r.receptive_field}²"
                for r in rows
            ],
            t("mnist.layers_macs"): [
                f"{r.multiply_adds:,}" if r.multiply_adds else "–" for r in rows
            ],
        }
        # A table, not a dataframe: nine short rows, read from the back of a room, no scrolling.
        st.table(pd.DataFrame(table).set_index(t("mnist.layers_layer")))
        st.caption(
            t(
                "mnist.layers_total",
                count=f"{sum(r.parameters for r in rows):,}",
                macs=f"{sum(r.multiply_adds for r in rows):,}",
            )
        )
        show_code("model = torch.nn.Sequential(\n" + "".join(f"    {m},\n" for m in modules) + ")")


def budget_note(
    full: Dataset, data: Dataset, chosen_batch: int, config: TrainConfig, share: Budget
) -> None:
    """Why fewer validation and test images, or a smaller batch, than chosen are in use
    (core.mnist_setup.within_budget with ``share``); nothing when all are."""
    if len(data.test.y) < len(full.test.y) or len(data.val.y) < len(full.val.y):
        st.info(
            t(
                "mnist.budget_rows",
                macs=f"{share.multiply_adds:,}",
                rows=f"{max(len(data.val.y), len(data.test.y)):,}",
                val=f"{len(full.val.y):,}",
                test=f"{len(full.test.y):,}",
            ),
            icon=":material/speed:",
        )
    if config.batch_size < chosen_batch:
        st.info(
            t("mnist.budget_batch", batch=config.batch_size, chosen=chosen_batch),
            icon=":material/speed:",
        )


def layer_settings(fields: Fields, family: str) -> tuple[tuple[int, ...], tuple]:
    """The MLP's hidden widths, or the CNN's two blocks as (channels, kernel size) each."""
    if family == "mlp":
        return hidden_widths(fields), ()
    keys = ("mn_conv1", "mn_kernel1", "mn_conv2", "mn_kernel2")
    c1, k1, c2, k2 = fields_in_columns(st.columns(4), fields, keys)
    return (), ((int(c1), int(k1)), (int(c2), int(k2)))


def hidden_widths(fields: Fields) -> tuple[int, ...]:
    """The typed hidden widths; a text that is not valid is said so and the default used."""
    text = field(
        fields, "mn_hidden", help=t("mnist.hidden_help", layers=MAX_LAYERS, width=MAX_WIDTH)
    )
    hidden = parse_hidden(text)
    if hidden is None:
        st.warning(
            t(
                "mnist.hidden_bad",
                text=" ".join(text.split())[:40],
                layers=MAX_LAYERS,
                width=MAX_WIDTH,
            )
        )
        hidden = parse_hidden(fields["mn_hidden"].param.default)
    return hidden


def entry_inputs(entry_fields: Fields, optimizer: str, schedule: str) -> tuple[dict, dict]:
    """The optimizer's hyperparameters, three to a row, then the schedule's parameters, each by
    its name (the field's key is ``mn_<optimizer>_<name>`` or ``mn_<schedule>_<name>``)."""
    hps: dict[str, Any] = {}
    schedule_params: dict[str, Any] = {}
    columns = st.columns(3)
    for key in entry_fields:
        if key.startswith(prefix := f"mn_{optimizer}_"):
            with columns[len(hps) % 3]:
                hps[key.removeprefix(prefix)] = field(entry_fields, key)
    for key in entry_fields:
        if key.startswith(prefix := f"mn_{schedule}_"):
            schedule_params[key.removeprefix(prefix)] = field(entry_fields, key)
    return hps, schedule_params


def controls_panel(
    fields: Fields, data: Dataset, config: TrainConfig, lr: float, lr_stops: tuple, style: PlotStyle
) -> tuple[TrainConfig, str]:
    """The pace, the epoch limit and early stopping; Start, Pause, one step, the epoch button,
    Reset; the parameter count; why a run ended, and the way out. Returns the config with the
    run's limits, and the pace."""
    if style.projector:
        c_pace = st.container()
        c_epochs, c_patience = st.columns(2)
    else:
        c_pace, c_epochs, c_patience = st.columns([3, 2, 2], vertical_alignment="bottom")
    with c_pace:
        pace = field(fields, "mn_pace")
    with c_epochs:
        epochs = int(field(fields, "mn_epochs"))
    with c_patience:
        patience = int(field(fields, "mn_patience"))
    config = config._replace(epochs=epochs, patience=patience or None)
    running = session().running
    buttons = (
        ("start", "_mn_start", (start,), ":material/play_arrow:"),
        ("pause", "_mn_pause", (pause,), ":material/pause:"),
        ("one_step", "_mn_step", (one_step, data, config), ":material/skip_next:"),
        ("one_epoch", "_mn_epoch", (one_epoch, data, config, EPOCH_BUDGET), ":material/fast_forward:"),
        ("reset", "_mn_reset", (reset, data, config), ":material/restart_alt:"),
    )  # fmt: skip
    extra = {
        "_mn_start": {"type": "primary", "disabled": running or not can_go_on(session(), config)},
        "_mn_pause": {"disabled": not running},
        "_mn_reset": {"help": t("mnist.reset_help")},
    }
    state = session().train
    labels = {}
    if running:
        # While training, the live view's own reruns move the epoch on without redrawing this
        # panel: a label naming the epoch or where it ends would soon be wrong ("Finish epoch 1"
        # in epoch 9), so it names neither. Paused, every change redraws the panel.
        labels["one_epoch"] = t("mnist.finish_this_epoch")
        extra["_mn_epoch"] = {"help": t("mnist.finish_this_epoch_help")}
    elif state.pos > 0:
        # Mid-epoch the button finishes this epoch (1,411 → 1,430), and says so.
        end = state.step + -(-(len(data.train.y) - state.pos) // config.batch_size)
        labels["one_epoch"] = t("mnist.finish_epoch", epoch=state.epoch + 1)
        extra["_mn_epoch"] = {"help": t("mnist.finish_epoch_help", end=end)}
    # A projector's large type needs two rows for five labelled buttons.
    columns = st.columns(3) + st.columns(3) if style.projector else st.columns(5)
    for column, (name, key, args, icon) in zip(columns, buttons, strict=False):
        column.button(
            labels.get(name, t(f"mnist.{name}")), key=key, on_click=on, args=args, icon=icon,
            width="stretch", **extra.get(key, {}),
        )  # fmt: skip
    st.markdown(
        t(
            "mnist.param_count",
            count=f"{parameter_count(session().train.params):,}",
            arch=architecture_text(config.architecture),
        )
    )
    state = session().train
    if state.diverged_at is not None:
        st.error(
            t("mnist.exploded", step=state.diverged_at, lr=f"{lr:g}"), icon=":material/warning:"
        )
        st.button(
            t("mnist.reset_lower", lr=f"{nearest(lr / 10, lr_stops):g}"),
            key="_mn_reset_lower",
            on_click=on_reset_lower_lr,
            args=(data, config, lr_stops),
            type="primary",
        )
    elif state.stopped == "epochs":
        st.success(t("mnist.stopped_epochs", epochs=state.epoch), icon=":material/flag:")
    elif state.stopped == "early_stopping":
        st.info(
            t(
                "mnist.stopped_early",
                patience=state.bad_epochs,
                best=state.best_epoch,
                loss=f"{state.best_val_loss:.3f}",
            ),
            icon=":material/flag:",
        )
    if state.stopped in ("early_stopping", "epochs"):
        best_weights_offer(state)
    return config, pace


def best_weights_offer(state) -> None:
    """After a run ended: the weights of an earlier epoch with a lower validation loss, on a click
    (core.session.restore_best), or a line saying they are in use."""
    best = {"best": state.best_epoch, "loss": f"{state.best_val_loss:.3f}"}
    if state.best_params is not None and state.params is state.best_params:
        st.caption(t("mnist.restored_best", **best))
    elif state.best_params is not None and state.best_epoch < state.epoch:
        st.button(
            t("mnist.restore_best", **best),
            key="_mn_restore_best",
            on_click=on,
            args=(restore_best,),
            help=t("mnist.restore_best_help", **best),
            icon=":material/history:",
        )


def snap_to_stops(fields: Fields) -> None:
    """A number from a link that falls between a slider's stops (its Param's options) snaps to
    the nearest stop, in log distance (the stops of lr and batch size are log-spaced)."""
    for key, f in fields.items():
        stops = f.param.options
        if f.param.kind in ("int", "float") and stops and key in st.session_state:
            if st.session_state[key] not in stops:
                st.session_state[key] = type(stops[-1])(nearest(st.session_state[key], stops))
