"""Live MNIST training: configure an MLP, Start / Pause / step, and watch it learn real digits.

Reads top to bottom: the settings as ``ui.fields`` fields (bound to the URL), the training session
(core.session.Session, immutable, under one session key; buttons and each time-budgeted tick of a
``st.fragment(run_every=…)`` apply its transitions, so only the live views rerun while training),
then the panels of ui.mnist_settings and ui.mnist_views. Datasets are shared read-only by every
visitor through ``st.cache_resource``.
"""

import streamlit as st

from core.activations import ACTIVATIONS
from core.datasets import DATASETS, NUM_CLASSES
from core.initializers import INITIALIZERS, default_kwargs
from core.mnist_setup import (
    CONV1_CHANNELS,
    CONV2_CHANNELS,
    FAMILIES,
    KERNELS,
    budget,
    exposed,
    run_label,
    train_config,
    within_budget,
)
from core.optimizers import OPTIMIZER_ENTRIES, on_page
from core.params import Param
from core.session import PACES, configure
from ui.controls import current_plot_style, enter_through_shell, show_formula
from ui.errors import guarded_panel
from ui.fair_share import BASE_EVERY, tick_plan
from ui.fields import Field, bind_fields, widget_for
from ui.i18n import t
from ui.mnist_cnn_views import cnn_view
from ui.mnist_live import Live, live_view
from ui.mnist_session import save, session, start_session, trainer_registry
from ui.mnist_settings import (
    budget_note,
    controls_panel,
    data_panel,
    layers_table,
    network_panel,
    snap_to_stops,
)
from ui.mnist_upload import NAME as UPLOAD
from ui.mnist_views import (
    compare_panel,
    draw_view,
    inside_view,
    model_panel,
    predictions_view,
)
from ui.panels import experiments

enter_through_shell()

# ---------------------------------------------------------------- the settings

DATA_KEYS = (*DATASETS, UPLOAD)  # UPLOAD: the visitor's own files, kept in their session
SCHEDS = ("none", "step_lr", "exponential_lr", "cosine_annealing_lr")
# Schedule parameters in epochs (the page's schedule unit), with defaults that act within ~10 epochs.
SCHED_PARAMS = {
    "step_lr": {
        "step_size": Param("int", 3, low=1, high=100),
        "gamma": Param("float", 0.5, 0.01, 1.0, step=0.05),
    },
    "exponential_lr": {"gamma": Param("float", 0.8, 0.01, 1.0, step=0.05)},
    "cosine_annealing_lr": {"T_max": Param("int", 10, low=1, high=200)},
}
# The stops of the lr and batch sliders; a link's value between two stops snaps to the nearest.
LRS = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0, 10.0)
BATCHES = (1, 8, 16, 32, 64, 128, 256, 512, 1024)
SLOW_EVERY = 3.0  # the prediction grid, confusion matrix and inside view refresh more slowly


def _init_label(init: str) -> str:  # the same names as on the initialization page
    return f"{init}_ — {t(f'initialization.init_name.{init}')}"


def _kernel_label(k: int) -> str:
    return f"{k}×{k}"


def _channels_label(channels: int) -> str:  # 0 channels: no second block
    return str(channels) if channels else t("mnist.no_block")


FIELDS = {
    "mn_data": Field(Param("choice", "mnist_builtin", options=DATA_KEYS), "select",
                     "mnist.data_label", option_labels="mnist.data."),
    "mn_train_size": Field(Param("int", 7000, low=100, high=60_000, step=100), "slider",
                           "mnist.train_size", "mnist.train_size_help"),
    "mn_arch": Field(Param("choice", "mlp", options=FAMILIES), "segmented", "mnist.arch",
                     "mnist.arch_help", option_labels="mnist.arch_name."),
    "mn_hidden": Field(Param("text", "128"), "text", "mnist.hidden"),
    "mn_conv1": Field(Param("choice", 8, options=CONV1_CHANNELS), "select", "mnist.conv1",
                      "mnist.conv_help"),
    "mn_kernel1": Field(Param("choice", 5, options=KERNELS), "select", "mnist.kernel1",
                        option_labels=_kernel_label),
    "mn_conv2": Field(Param("choice", 16, options=CONV2_CHANNELS), "select", "mnist.conv2",
                      "mnist.conv2_help", option_labels=_channels_label),
    "mn_kernel2": Field(Param("choice", 5, options=KERNELS), "select", "mnist.kernel2",
                        option_labels=_kernel_label),
    "mn_act": Field(Param("choice", "relu", options=tuple(ACTIVATIONS)), "select",
                    "mnist.activation", option_labels="activations.names."),
    "mn_init": Field(Param("choice", "kaiming_uniform", options=tuple(INITIALIZERS)), "select",
                     "mnist.initializer", option_labels=_init_label),
    "mn_bn": Field(Param("bool", False), "toggle", "mnist.batch_norm"),
    "mn_augment": Field(Param("bool", False), "toggle", "mnist.augment", "mnist.augment_help"),
    "mn_dropout": Field(Param("float", 0.0, low=0.0, high=0.9, step=0.05), "slider",
                        "mnist.dropout", "mnist.dropout_help"),
    "mn_opt": Field(Param("choice", "adam", options=on_page("mnist")), "select",
                    "mnist.optimizer", option_labels="optimizers.names."),
    "mn_lr": Field(Param("float", 1e-3, low=LRS[0], high=LRS[-1], options=LRS), "select_slider",
                   "mnist.lr", "mnist.lr_help", option_labels=lambda lr: f"{lr:g}"),
    "mn_batch": Field(Param("int", 128, low=BATCHES[0], high=BATCHES[-1], options=BATCHES),
                      "select_slider", "mnist.batch", "mnist.batch_help"),
    "mn_sched": Field(Param("choice", "none", options=SCHEDS), "select", "mnist.schedule",
                      "mnist.schedule_help", option_labels="mnist.sched."),
    "mn_seed": Field(Param("int", 0, low=0, high=9999), "number", "mnist.seed"),
    # Class pace by default: on full speed the first epoch was over in under a second.
    "mn_pace": Field(Param("choice", "class", options=PACES), "segmented", "mnist.pace",
                     "mnist.pace_help", option_labels="mnist.paces."),
    "mn_epochs": Field(Param("int", 20, low=1, high=1000), "number", "mnist.epochs_limit",
                       "mnist.epochs_limit_help"),
    "mn_patience": Field(Param("int", 3, low=0, high=100), "number", "mnist.patience",
                         "mnist.patience_help"),
}  # fmt: skip


def entry_fields(optimizer: str, schedule: str) -> dict[str, Field]:
    """The chosen optimizer's hyperparameters (but lr) and the chosen schedule's parameters."""
    fields = {}
    for hp in exposed(optimizer):
        param = OPTIMIZER_ENTRIES[optimizer].hyperparameters[hp]
        fields[f"mn_{optimizer}_{hp}"] = Field(param, widget_for(param), f"mnist.hp.{hp}")
    for name, param in SCHED_PARAMS.get(schedule, {}).items():
        fields[f"mn_{schedule}_{name}"] = Field(param, "number", f"mnist.sched_param.{name}")
    return fields


EXPERIMENTS = {
    "explode": {"mn_act": "leaky_relu", "mn_hidden": "128, 128", "mn_opt": "sgd", "mn_lr": 1.0,
                "mn_sched": "none", "mn_bn": False},
    "sigmoid": {"mn_act": "sigmoid", "mn_hidden": "64, 64, 64, 64, 64", "mn_opt": "sgd",
                "mn_lr": 0.1, "mn_sched": "none", "mn_bn": False},
    "muon": {"mn_opt": "muon", "mn_lr": 0.03, "mn_hidden": "128", "mn_act": "relu",
             "mn_sched": "none", "mn_bn": False, "mn_dropout": 0.0},
    # No early stopping: the widening gap between training and validation is the lesson.
    "dropout": {"mn_train_size": 1000, "mn_hidden": "512", "mn_dropout": 0.5, "mn_opt": "adam",
                "mn_lr": 1e-3, "mn_act": "relu", "mn_patience": 0},
    # ConvNetJS's CNN on 1,000 images for 25 epochs, as fast as the server allows (at class pace
    # each run would take six minutes); first without augmentation, then with it after a Reset.
    "augment": {"mn_arch": "cnn", "mn_train_size": 1000, "mn_augment": False, "mn_conv1": 8,
                "mn_kernel1": 5, "mn_conv2": 16, "mn_kernel2": 5, "mn_act": "relu",
                "mn_bn": False, "mn_dropout": 0.0, "mn_opt": "adam", "mn_lr": 3e-3,
                "mn_sched": "none", "mn_batch": 128, "mn_epochs": 25, "mn_patience": 0,
                "mn_pace": "fast"},
    # An MLP and a CNN of about the same size (6,370 and 5,994 parameters), two epochs each.
    "cnn_vs_mlp": {"mn_arch": "mlp", "mn_hidden": "8", "mn_train_size": 7000, "mn_conv1": 8,
                   "mn_kernel1": 5, "mn_conv2": 16, "mn_kernel2": 5, "mn_act": "relu",
                   "mn_bn": False, "mn_dropout": 0.0, "mn_augment": False, "mn_opt": "adam",
                   "mn_lr": 1e-3, "mn_sched": "none", "mn_batch": 128, "mn_epochs": 2,
                   "mn_patience": 0, "mn_pace": "fast"},
}  # fmt: skip

# The compare panel's one-click races: Muon (with AdamW for the biases) against Adam, each at a
# learning rate that suits it; and this network without and with its dropout, as long as 40
# epochs of the dropout experiment's 1,000 images (8 steps each) take.
RACE = (("muon", 0.03), ("adam", 1e-3))
DROPOUT_RACE_STEPS = 40 * 8

FORMULAS = {
    "mlp": (
        r"\mathcal{L} = -\frac{1}{N}\sum_{n=1}^{N} \log \operatorname{softmax}(W_L\,h_{L-1} + b_L)"
        r"_{y_n},\qquad h_\ell = f(W_\ell\, h_{\ell-1} + b_\ell),\ h_0 = x"
    ),
    # A convolution as the sum it is (torch's cross-correlation: no kernel flip), the max-pool,
    # and the output size of both (torch.nn.Conv2d's docs).
    "cnn": (
        r"\mathcal{L} = -\frac{1}{N}\sum_{n=1}^{N} \log \operatorname{softmax}"
        r"\big(W \operatorname{flatten}(h) + b\big)_{y_n},"
        r"\qquad y_{c,i,j} = b_c + \sum_{c'}\sum_{u,v} W_{c,c',u,v}\; x_{c',\,s i + d u - p,\,s j + d v - p},"
        r"\qquad h = \operatorname{maxpool}\big(f(y)\big),"
        r"\qquad n_{\text{out}} = \Big\lfloor \frac{n + 2p - d(k - 1) - 1}{s} \Big\rfloor + 1"
    ),
}

# ---------------------------------------------------------------- page

start_session()
style = current_plot_style()
bind_fields(FIELDS)
opt_now = st.session_state.get("mn_opt", "adam")
opt_now = opt_now if opt_now in on_page("mnist") else "adam"
ENTRY_FIELDS = entry_fields(opt_now, st.session_state.get("mn_sched", "none"))
bind_fields(ENTRY_FIELDS)
snap_to_stops(FIELDS)

st.title(t("mnist.heading"))
st.markdown(t("mnist.intro"))
family_now = st.session_state.get("mn_arch", "mlp")
show_formula(FORMULAS.get(family_now, FORMULAS["mlp"]))

with guarded_panel(t("mnist.panel_data")):
    used = data_panel(FIELDS, style)
with guarded_panel(t("mnist.panel_network")):
    net = network_panel(FIELDS, ENTRY_FIELDS, style)
    config = train_config(
        used.data.image_shape, net, tuple(default_kwargs(net.initializer).items())
    )
    layers_table(config)
    # Validation and test images, and the batch, that a large network may take on a shared server.
    share = budget(config.architecture, BATCHES)
    data, config = within_budget(used.data, config, share)
    budget_note(used.data, data, net.batch, config, share)
# What makes a new network (the seed last, core.session); lr, optimizer and dropout may change
# while it trains. The activation is in it: a sigmoid network trained on under ReLU was kept as
# "ReLU", and the sigmoid experiment's comparison compared nothing.
arch = (used.id, used.train_size, config.architecture, net.initializer, net.activation, net.seed)
names = (t(f"optimizers.names.{net.optimizer}"), t(f"mnist.sched.{net.schedule}"))
label = run_label(
    net._replace(batch=config.batch_size), config.architecture, used.train_size, used.n_max, names
)
save(configure(session(), data, config, arch, label))

with guarded_panel(t("mnist.panel_controls")):
    config, pace = controls_panel(FIELDS, data, config, net.lr, LRS, style)
running = session().running
# How often this session updates while training depends on how many train on this server now.
plan = tick_plan(trainer_registry().count(including=session().id)) if running else tick_plan(1)
live = Live(
    data, used.id, config, net.lr, label,
    [t(f"mnist.fashion.{i}") for i in range(NUM_CLASSES)] if used.name == "fashion_mnist"
    else [str(i) for i in range(NUM_CLASSES)],
    style, running, plan, SLOW_EVERY * plan.every / BASE_EVERY if running else None, pace,
)  # fmt: skip
live_view(live)

with guarded_panel(t("mnist.panel_experiments")):
    experiments("mnist", EXPERIMENTS, owned=("mn_",))

predictions_view(live)
draw_view(live)
inside_view(live)
cnn_view(live)
with guarded_panel(t("mnist.panel_compare")):
    compare_panel(live, RACE, DROPOUT_RACE_STEPS)
with guarded_panel(t("mnist.panel_model")):
    model_panel(live)
