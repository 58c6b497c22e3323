"""Figure builders of the optimizer race: traces, names, axis titles, frames; no browser."""

import numpy as np
import plotly.graph_objects as go
import pytest

import ui.plots.optimizers as plots
from core.descent import convergence_map, race
from core.optimizers import make
from core.path_metrics import loss_grid
from core.surfaces import SURFACES
from ui.theme import ChartText, plot_style

STYLE = plot_style()


@pytest.fixture(scope="module")
def setup():
    s = SURFACES["rosenbrock"]()
    paths = race([make("sgd", lr=0.01), make("adam", lr=0.05)], s, s.start, 40)
    xs, ys, z = loss_grid(s, 30)
    return s, [r.path(0) for r in paths], xs, ys, z


def test_contour_draws_paths_up_to_the_last_finite_point(setup):
    s, paths, xs, ys, z = setup
    assert paths[0].diverged_at is not None  # sgd lr 0.01 diverges on Rosenbrock
    fig = plots.contour_with_paths(
        xs, ys, z, [("SGD-x", paths[0].points), ("Adam-x", paths[1].points)],
        bounds=s.bounds, f_min=0.0, log_levels=True, minima=s.minima, start=s.start,
        arrows=[plots.Arrow(0, 0, 1, 1, 0, True), plots.Arrow(0, 0, 1, 0, 1, False)],
        title="T", colorbar_title="CB", minimum_label="MIN", start_label="START",
        click_label="CLICK", style=STYLE,
    )  # fmt: skip
    assert isinstance(fig, go.Figure)
    names = [tr.name for tr in fig.data]
    # The markers last, over the arrows: the arrows' heads hid the start ring (issue #21).
    assert names[2:] == ["SGD-x", "Adam-x", plots.ARROW, plots.ARROW, "MIN", "START"]
    assert len(fig.data[2].x) == paths[0].diverged_at  # drawn up to the last finite point
    assert np.all(np.isfinite(fig.data[2].x))
    assert not fig.layout.annotations
    assert fig.layout.xaxis.title.text == "x" and fig.data[0].colorbar.title.text == "CB"


def test_step_arrows_pair_the_plain_gradient_step_with_the_update(setup):
    s, paths, *_ = setup
    arrows = plots.step_arrows(paths, [0.01, 0.05], 1)
    assert [(a.color_index, a.faint) for a in arrows] == [
        (0, True),
        (0, False),
        (1, True),
        (1, False),
    ]
    g = s.grad(paths[1].points[1])
    x, y = paths[1].points[1]
    assert arrows[2] == plots.Arrow(x, y, -0.05 * g[0], -0.05 * g[1], 1, True)
    dx, dy = paths[1].points[2] - paths[1].points[1]
    assert arrows[3][:4] == pytest.approx((x, y, dx, dy))
    late = plots.step_arrows(paths, [0.01, 0.05], 2)  # sgd's step into divergence: only Adam's pair
    assert [a.color_index for a in late] == [1, 1]


def test_gap_curves_subtract_f_min_and_choose_log_y(setup):
    _, paths, *_ = setup
    curves, log_y = plots.gap_curves(["a", "b"], paths, 0.5)
    assert [c[0] for c in curves] == ["a", "b"] and log_y
    np.testing.assert_array_equal(curves[1][1], paths[1].losses - 0.5)
    assert plots.gap_curves(["a", "b"], paths, None)[1]  # Rosenbrock losses are positive
    negative = paths[1]._replace(losses=paths[1].losses - 10.0)
    curves, log_y = plots.gap_curves(["b"], [negative], None)
    assert not log_y and curves[0][1] is negative.losses


def test_log_levels_use_log10_of_the_gap():
    z = np.array([[0.0, 1.0], [100.0, np.inf]])
    v = plots.contour_values(z, 0.0, True)
    assert v[0, 1] == 0.0 and v[1, 0] == 2.0 and np.isnan(v[1, 1])
    np.testing.assert_array_equal(plots.contour_values(z, 0.0, False)[0], [0.0, 1.0])


def test_surface_3d_and_loss_curves(setup):
    _s, paths, xs, ys, z = setup
    fig = plots.surface_3d(
        xs, ys, z, [("A", p.points, p.losses) for p in paths], f_min=0.0, log_levels=True,
        title="T3", z_title="Z", style=STYLE,
    )  # fmt: skip
    assert [type(tr).__name__ for tr in fig.data] == ["Surface", "Scatter3d", "Scatter3d"]
    assert fig.layout.scene.zaxis.title.text == "Z"
    fig = plots.loss_curves(
        [("A", paths[0].losses), ("B", paths[1].losses)], log_y=True,
        text=ChartText("L", "step", "loss"), style=STYLE,
    )  # fmt: skip
    assert [tr.name for tr in fig.data] == ["A", "B"]
    assert fig.layout.yaxis.type == "log" and fig.layout.xaxis.title.text == "step"


def test_animation_has_frames_buttons_and_slider(setup):
    s, paths, xs, ys, z = setup
    fig = plots.race_animation(
        xs, ys, z, [("A", paths[0].points), ("B", paths[1].points)], [0, 10, 20, 40],
        bounds=s.bounds, f_min=0.0, log_levels=True, minima=s.minima, colorbar_title="CB", minimum_label="MIN", step_label="STEP", play_label="PLAY",
        fast_label="FAST", pause_label="PAUSE", replay_label="REPLAY", style=STYLE,
    )  # fmt: skip
    assert len(fig.frames) == 4
    buttons = fig.layout.updatemenus[0].buttons
    assert [b.label for b in buttons] == ["PLAY", "FAST", "PAUSE", "REPLAY"]
    # Replay starts from the first frame whatever frame is shown; Play goes on from it.
    assert (
        list(buttons[3].args[0]) == ["0", "10", "20", "40"]
        and not buttons[3].args[1]["fromcurrent"]
    )
    assert buttons[0].args[0] is None and buttons[0].args[1]["fromcurrent"]
    # The map is a layout image, not a contour trace: plotly.js drops contour and heatmap
    # traces when an animation plays without redrawing (the race kept its balls on white).
    assert not [tr for tr in fig.data if tr.type in ("contour", "heatmap")]
    (image,) = fig.layout.images
    assert image.source.startswith("data:image/png;base64,") and image.layer == "below"
    assert (image.x, image.y, image.sizex, image.sizey) == pytest.approx(
        (xs[0], ys[-1], xs[-1] - xs[0], ys[-1] - ys[0])
    )
    colour_bar = fig.data[0]
    assert colour_bar.marker.showscale and colour_bar.marker.colorbar.title.text == "CB"
    assert [st.label for st in fig.layout.sliders[0].steps] == ["0", "10", "20", "40"]
    # the moving trace holds one point per optimizer; a diverged one stays at its last point
    last = fig.frames[-1].data[0]
    assert len(last.x) == 2
    assert last.x[0] == paths[0].points[paths[0].diverged_at - 1, 0]


def test_convergence_heatmap_marks_the_current_setting():
    s = SURFACES["quadratic_bowl"]()
    lrs, momenta = np.logspace(-3, 0, 6), np.linspace(0, 0.9, 4)
    m = convergence_map(s, lrs, momenta, 100, 1e-3)
    fig = plots.convergence_heatmap(
        m.lrs, m.momenta, m.steps_to_reach, m.diverged_at, (0.01, 0.9),
        text=ChartText("C", "LR", "MOM"), colorbar_title="STEPS", diverged_label="DIV",
        never_label="NEVER", current_label="NOW", style=STYLE,
    )  # fmt: skip
    names = [tr.name for tr in fig.data]
    assert names == ["STEPS", "DIV", "DIV", "NEVER", "NEVER", "NOW"]
    assert fig.data[-1].x[0] == pytest.approx(-2.0)
    assert fig.layout.xaxis.title.text == "LR" and fig.layout.yaxis.title.text == "MOM"


def test_lr_search_curves():
    lrs = np.logspace(-3, 0, 4)
    fig = plots.lr_search_curves(
        lrs, [("A", np.array([1.0, 0.1, np.nan, np.nan]), lrs[1]), ("B", np.ones(4), None)],
        text=ChartText("S", "LR", "F"), best_label="best", style=STYLE,
    )  # fmt: skip
    assert [tr.name for tr in fig.data] == ["A", "A: best", "B"]
    assert fig.layout.xaxis.type == "log"


def test_animated_map_image_colours_values_in_bands_and_leaves_nan_clear():
    import base64
    import io

    from PIL import Image

    from ui.plots.optimizers import CONTOUR_LEVELS, MAP_PIXELS, _map_image

    xs, ys = np.linspace(-1.0, 1.0, 21), np.linspace(0.0, 2.0, 11)
    values = np.tile(xs, (len(ys), 1))  # grows to the right, constant upwards
    values[-1, 0] = np.nan  # top-left corner: no value
    image, (low, high) = _map_image(xs, ys, values)
    assert (low, high) == (-1.0, 1.0)
    png = base64.b64decode(image["source"].split(",", 1)[1])
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGBA")).astype(int)
    assert pixels.shape == (MAP_PIXELS, MAP_PIXELS, 4)
    middle = pixels[MAP_PIXELS // 2]
    # Viridis runs from dark purple to light yellow: brightness grows with the value.
    brightness = middle[:, :3].sum(axis=1)
    assert brightness[-1] > brightness[MAP_PIXELS // 2] > brightness[0]
    assert 20 <= len(np.unique(brightness)) <= 2 * CONTOUR_LEVELS + 1  # bands and their lines
    # The NaN corner is transparent; image rows run downwards, so it is the top-left pixel.
    assert pixels[0, 0, 3] == 0 and pixels[-1, 0, 3] > 0


def test_step_arrows_are_clipped_to_the_map(setup):
    s, paths, xs, ys, z = setup  # Rosenbrock's box: x in [-2, 2], y in [-1, 3]
    arrows = [
        plots.Arrow(0.0, 0.0, 1.0, 1.0, 0, False),  # inside: as it is
        plots.Arrow(1.0, 0.0, 4.0, 0.0, 0, False),  # leaves through x = 2: cut there, no head
        plots.Arrow(5.0, 5.0, 1.0, 1.0, 1, True),  # outside: not drawn
        plots.Arrow(-3.0, 0.0, 2.0, 0.0, 1, True),  # enters at x = -2: starts there, keeps its head
    ]
    fig = plots.contour_with_paths(
        xs, ys, z, [("A", paths[1].points)], bounds=s.bounds, f_min=0.0, log_levels=True,
        minima=s.minima, start=s.start, arrows=arrows, title="T", colorbar_title="CB",
        minimum_label="MIN", start_label="START", click_label="CLICK", style=STYLE,
    )  # fmt: skip
    drawn = [
        (*tr.x, *tr.y, tr.mode == "lines+markers") for tr in fig.data if tr.name == plots.ARROW
    ]
    assert drawn == [
        (0.0, 1.0, 0.0, 1.0, True),
        (1.0, 2.0, 0.0, 0.0, False),
        (-2.0, -1.0, 0.0, 0.0, True),
    ]
