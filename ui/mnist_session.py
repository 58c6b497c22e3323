"""The MNIST page's Streamlit glue around core.session: the one session key, the buttons'
callbacks that apply its transitions, and the datasets and trainer registry that every visitor of
this process shares read-only through ``st.cache_resource``.
"""

import uuid

import streamlit as st

from core.datasets import DATASETS, Dataset, DatasetError, Split
from core.download import data_dir
from core.mnist_setup import nearest
from core.model_io import ModelFileError, load_model
from core.session import Session, receive_model, receive_upload, reset
from ui.fair_share import TrainerRegistry
from ui.mnist_upload import dataset_from_uploads

KEY = "_mn_session"  # the one session key: a core.session.Session
# The settings a loaded model brings (core.session.receive_model) and the widgets that show them.
MODEL_SETTINGS = {
    "data": "mn_data",
    "family": "mn_arch",
    "hidden": "mn_hidden",
    "conv1": "mn_conv1",
    "kernel1": "mn_kernel1",
    "conv2": "mn_conv2",
    "kernel2": "mn_kernel2",
    "activation": "mn_act",
    "batch_norm": "mn_bn",
}


@st.cache_resource(show_spinner=False)
def load_dataset(name: str) -> Dataset | None:
    """The dataset ``name`` as read-only uint8 arrays, or None when its files are not downloaded."""
    return DATASETS[name](data_dir(), 0)


@st.cache_resource(show_spinner=False, max_entries=16)
def with_train_size(name: str, size: int) -> Dataset:
    """The first ``size`` training images (views, not copies); validation and test unchanged."""
    d = load_dataset(name)
    return d._replace(train=Split(d.train.x[:size], d.train.y[:size]))


@st.cache_resource(show_spinner=False)
def trainer_registry() -> TrainerRegistry:
    """The sessions of this process that are training now (one registry for every visitor)."""
    return TrainerRegistry()


def start_session() -> None:
    """A fresh session on a visitor's first run; the id names them in the trainer registry
    (Streamlit's own is private)."""
    if KEY not in st.session_state:
        st.session_state[KEY] = Session(uuid.uuid4().hex)


def session() -> Session:
    return st.session_state[KEY]


def save(new: Session) -> None:
    """Keep ``new``; newly archived runs are shown at once (the user may hide them again)."""
    old = st.session_state[KEY]
    if not new.running:
        trainer_registry().leave(new.id)
    added = [r.label for r in new.runs if not any(r is o for o in old.runs)]
    if added:
        shown = [name for name in st.session_state.get("mn_compare", []) if name not in added]
        st.session_state["mn_compare"] = [*shown, *added]
    st.session_state[KEY] = new


def on(transition, *args) -> None:
    """A button's callback: apply ``transition`` to the session."""
    save(transition(session(), *args))


def on_reset_lower_lr(data, config, stops: tuple) -> None:
    """Reset at the learning-rate stop nearest a tenth of the current one."""
    lr = nearest(st.session_state["mn_lr"] / 10, stops)
    st.session_state["mn_lr"] = lr
    save(reset(session(), data, config._replace(lr=lr)))


def on_model_upload() -> None:
    """Read an uploaded model; a good one sets the page's architecture to match (before widgets)."""
    file = st.session_state.get("_mn_model_upload")
    if file is None:
        save(session()._replace(model_error=None))
        return
    try:
        model, error = load_model(file.getvalue()), None
    except ModelFileError as problem:
        model, error = None, problem.code
    new, settings = receive_model(session(), model, file.name, error)
    for name, value in settings.items():
        st.session_state[MODEL_SETTINGS[name]] = value
    save(new)


def read_uploads(files: list) -> None:
    """Read newly uploaded files once; a bad upload is reported and the previous data kept."""
    ids = tuple(f.file_id for f in files)
    if ids == session().upload_seen:
        return
    dataset, error = None, None
    if files:  # files removed from the uploader: the last good upload stays in use
        try:
            dataset = dataset_from_uploads([(f.name, f.getvalue()) for f in files])
        except DatasetError as problem:
            error = problem.code
    save(receive_upload(session(), ids, ", ".join(f.name for f in files), dataset, error))
