"""dlcore.plot (style, presenter mode, the recurring figures) and dlcore.widgets (sliders, Panel)."""
import base64
import io
import weakref

import matplotlib

matplotlib.use("agg")  # conftest does this too; harmless again, and before pyplot

import ipywidgets as W  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.colors import is_color_like  # noqa: E402
from matplotlib.image import AxesImage  # noqa: E402
from PIL import Image  # noqa: E402

from dlcore import plot, widgets  # noqa: E402
from dlcore.train import History  # noqa: E402
from dlcore.widgets import Panel, png_bytes, slider  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _restore_rcparams():
    with matplotlib.rc_context():
        yield
    plt.close("all")


def decode(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))


# ------------------------------------------------------------------------------ style / presenter

def test_presenter_on():
    plot.presenter()
    assert matplotlib.rcParams["font.size"] >= 16
    assert matplotlib.rcParams["lines.linewidth"] >= 3
    assert plot.is_presenter()


def test_presenter_off_restores_smaller():
    plot.presenter()
    big_font, big_line = matplotlib.rcParams["font.size"], matplotlib.rcParams["lines.linewidth"]
    plot.presenter(False)
    assert matplotlib.rcParams["font.size"] < big_font
    assert matplotlib.rcParams["lines.linewidth"] < big_line
    assert not plot.is_presenter()


@pytest.mark.parametrize("value, on", [("1", True), ("true", True), ("YES", True), (" on ", True),
                                       ("0", False), ("", False), ("no", False)])
def test_style_reads_env(monkeypatch, value, on):
    monkeypatch.setenv("DLCORE_PRESENTER", value)
    plot.style()
    assert plot.is_presenter() is on


def test_style_without_env_is_normal():
    plot.presenter()
    plot.style()  # DLCORE_PRESENTER unset by the conftest fixture
    assert not plot.is_presenter()


def test_style_explicit_overrides_env(monkeypatch):
    monkeypatch.setenv("DLCORE_PRESENTER", "1")
    plot.style(presenter=False)
    assert not plot.is_presenter()


def test_style_uses_palette():
    plot.style()
    assert matplotlib.rcParams["axes.prop_cycle"].by_key()["color"] == plot.PALETTE


@pytest.mark.parametrize("bad", ["yes", 1, 0.0])
def test_style_bad_presenter(bad):
    with pytest.raises(TypeError, match="presenter"):
        plot.style(presenter=bad)


def test_palette():
    assert len(plot.PALETTE) == 8
    assert len(set(c.lower() for c in plot.PALETTE)) == 8
    assert all(is_color_like(c) for c in plot.PALETTE)


def test_figure_is_not_pyplot():
    n = len(plt.get_fignums())
    fig, axes = plot.figure(1, 2)
    assert len(axes) == 2 and len(plt.get_fignums()) == n


@pytest.mark.parametrize("nrows, ncols", [(1, 1), (2, 3)])
def test_figure_rows(nrows, ncols):
    fig, titles, axes = plot.figure_rows(nrows, ncols)
    assert axes.shape == (nrows, ncols) and len(titles) == nrows
    titles[0].set_text("finding")
    assert titles[0].get_text() == "finding"


def test_class_scatter_colours():
    fig, ax = plot.figure()
    X = torch.tensor([[0.0, 0.0], [1.0, 1.0], [2.0, 0.5]])
    pts = plot.class_scatter(ax, X, torch.tensor([0, 1, 0]))
    assert len(pts.get_offsets()) == 3
    faces = [matplotlib.colors.to_hex(c) for c in pts.get_facecolors()]
    assert faces == [plot.PALETTE[0].lower(), plot.PALETTE[1].lower(), plot.PALETTE[0].lower()]


@pytest.mark.parametrize("X, y, match", [
    (np.zeros((4, 3)), np.zeros(4), "X.*shape"),
    (np.zeros(4), np.zeros(4), "X.*shape"),
    (np.zeros((4, 2)), np.zeros(3), "y.*shape"),
], ids=["X 3 columns", "X 1-D", "y rows"])
def test_class_scatter_bad(X, y, match):
    fig, ax = plot.figure()
    with pytest.raises(ValueError, match=match):
        plot.class_scatter(ax, X, y)


def test_class_colormap_ends():
    cmap = plot.class_colormap()
    assert matplotlib.colors.to_hex(cmap(0.5)) == "#ffffff"
    assert cmap(0.0) != cmap(1.0)


# ------------------------------------------------------------------------------------ weight_image

def test_weight_image_returns_axes_image():
    fig, ax = plot.figure()
    W_ = np.array([[1.0, -2.0, 0.5], [0.0, 0.25, -0.5]])
    im = plot.weight_image(ax, W_, title="W")
    assert isinstance(im, AxesImage)
    assert im.get_clim() == (-2.0, 2.0)  # centred on zero
    assert im.get_array().shape == (2, 3)
    assert ax.get_title() == "W"


def test_weight_image_tensor_and_vmax():
    fig, ax = plot.figure()
    im = plot.weight_image(ax, torch.ones(3, 4, requires_grad=True), vmax=5.0, colorbar=False)
    assert im.get_clim() == (-5.0, 5.0)


def test_weight_image_all_zero():
    fig, ax = plot.figure()
    assert plot.weight_image(ax, np.zeros((2, 2))).get_clim() == (-1.0, 1.0)


def test_weight_image_colorbar():
    fig, ax = plot.figure()
    plot.weight_image(ax, np.eye(3))
    assert len(fig.axes) == 2


@pytest.mark.parametrize("bad", [np.ones(5), np.ones((2, 2, 2))], ids=["1-D", "3-D"])
def test_weight_image_rejects_not_2d(bad):
    fig, ax = plot.figure()
    with pytest.raises(ValueError, match="W.*2-D.*shape"):
        plot.weight_image(ax, bad)


# ------------------------------------------------------------------------------------- loss_curves

def _diverged():
    return History(step=[1, 2, 3, 4], loss=[1.0, 2.0, 50.0, float("inf")], diverged_at=4)


def test_loss_curves_labels_diverged():
    fig, ax = plot.figure()
    ok = History(step=[1, 2, 3], loss=[1.0, 0.5, 0.25])
    lines = plot.loss_curves(ax, {"lr=0.1": ok, "lr=10": _diverged()})
    assert lines["lr=0.1"].get_label() == "lr=0.1"
    assert lines["lr=10"].get_label() == "lr=10 (diverged at step 4)"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "lr=10 (diverged at step 4)" in legend


def test_loss_curves_plot_no_nan():
    fig, ax = plot.figure()
    h = History(step=[1, 2, 3], loss=[1.0, 2.0, float("nan")], diverged_at=3)
    lines = plot.loss_curves(ax, {"run": h})
    assert list(lines["run"].get_ydata()) == [1.0, 2.0]
    for line in ax.get_lines():
        assert np.isfinite(np.asarray(line.get_ydata(), dtype=float)).all()
        assert np.isfinite(np.asarray(line.get_xdata(), dtype=float)).all()


def test_loss_curves_marks_divergence_with_x():
    fig, ax = plot.figure()
    plot.loss_curves(ax, {"run": _diverged()})
    marks = [l for l in ax.get_lines() if l.get_marker() == "x"]
    assert len(marks) == 1
    assert list(marks[0].get_xdata()) == [3] and list(marks[0].get_ydata()) == [50.0]


def test_loss_curves_val_and_log():
    fig, ax = plot.figure()
    h = History(step=[1, 2], loss=[1.0, 0.5], val_step=[2], val_loss=[0.7], val_acc=[0.5])
    lines = plot.loss_curves(ax, {"a": h}, val=True, log=True)
    assert list(lines["a"].get_ydata()) == [0.7]
    assert ax.get_yscale() == "log"


def test_loss_curves_not_dict():
    fig, ax = plot.figure()
    with pytest.raises(TypeError, match="histories"):
        plot.loss_curves(ax, [History()])


# -------------------------------------------------------------------------------- layer_histograms

@pytest.mark.parametrize("n_layers", [1, 3])
def test_layer_histograms_one_axes_per_layer(n_layers):
    tensors = [torch.randn(50, 10, generator=torch.Generator().manual_seed(i)) for i in range(n_layers)]
    fig, axes, steps = plot.layer_histograms(tensors)
    assert len(axes) == n_layers == len(steps) == len(fig.axes)
    assert [ax.get_title() for ax in axes] == [f"layer {i + 1}" for i in range(n_layers)]


def test_layer_histograms_density_and_labels():
    fig, axes, steps = plot.layer_histograms([np.zeros(10), np.ones(10)], bins=4, range=(0, 2),
                                             labels=["a", "b"])
    assert [ax.get_title() for ax in axes] == ["a", "b"]
    values, edges = steps[0].get_data().values, steps[0].get_data().edges
    assert np.sum(values * np.diff(edges)) == pytest.approx(1.0)


def test_layer_histograms_constant_input():
    fig, axes, _ = plot.layer_histograms([np.full(5, 3.0)])
    assert len(axes) == 1


def test_layer_histograms_empty():
    with pytest.raises(ValueError, match="tensors"):
        plot.layer_histograms([])


# ------------------------------------------------------------------------------------------ slider

@pytest.mark.parametrize("args, cls", [
    ((0, 10), W.IntSlider),
    ((1, 100, 5, 50), W.IntSlider),
    ((0.1, 2.0), W.FloatSlider),
    ((0, 1, 0.1), W.FloatSlider),
    ((0, 10, 1, 2.5), W.FloatSlider),
])
def test_slider_kind(args, cls):
    s = slider("s", *args)
    assert type(s) is cls
    assert s.min == args[0] and s.max == args[1]


@pytest.mark.parametrize("args", [(0.0, 1.0), (0.0, 10.0, None, 5.0), (1.0, 3.0, 1.0)])
def test_slider_whole_floats_are_float(args):
    assert type(slider("p", *args)) is W.FloatSlider


def test_slider_values():
    s = slider("scale", 0.1, 2.0, 0.1, 1.0)
    assert (s.value, s.step, s.description) == (1.0, 0.1, "scale")
    assert slider("n", 2, 9).value == 2  # defaults to low


def test_slider_continuous_update():
    assert slider("n", 0, 5, continuous_update=False).continuous_update is False


def test_log_slider():
    s = slider("lr", 1e-4, 1.0, log=True)
    assert type(s) is W.FloatLogSlider
    assert s.min == pytest.approx(-4) and s.max == pytest.approx(0)
    assert s.value == pytest.approx(1e-2)  # geometric middle
    assert slider("lr", 1e-4, 1.0, 0.5, 1e-3, log=True).value == pytest.approx(1e-3)


@pytest.mark.parametrize("args, kwargs, exc, match", [
    ((1, 1), {}, ValueError, "low < high"),
    ((2.0, 1.0), {}, ValueError, "low < high"),
    ((0, 1), {"log": True}, ValueError, "low > 0"),
    ((-1, 1), {"log": True}, ValueError, "low > 0"),
    ((0, 1, 0.1, 5.0), {}, ValueError, "value"),
    ((1e-3, 1.0, 0.1, 5.0), {"log": True}, ValueError, "value"),
    (("0", 1), {}, TypeError, "low"),
    ((0, None), {}, TypeError, "high"),
], ids=["equal", "reversed", "log 0", "log negative", "value high", "log value", "low str", "high None"])
def test_slider_bad(args, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        slider("s", *args, **kwargs)


def test_dropdown():
    d = widgets.dropdown("act", ["tanh", "relu"])
    assert d.value == "tanh" and list(d.options) == ["tanh", "relu"]
    assert widgets.dropdown("act", ("tanh", "relu"), "relu").value == "relu"


@pytest.mark.parametrize("options, value, match", [([], None, "option"), (["a"], "b", "value 'b'")])
def test_dropdown_bad(options, value, match):
    with pytest.raises(ValueError, match=match):
        widgets.dropdown("d", options, value)


def test_button_counts_clicks():
    b = widgets.button("resample")
    assert isinstance(b, W.Button) and isinstance(b, W.ValueWidget) and b.value == 0
    b.click()
    b.click()
    assert b.value == 2
    assert widgets.button("again", value=5).value == 5
    assert "value" not in b.keys  # not synced: the browser sees a plain Button


@pytest.mark.parametrize("args, kwargs, exc, match", [
    (("",), {}, ValueError, "description"),
    (("b",), {"value": -1}, ValueError, "value"),
    (("b",), {"value": 1.5}, TypeError, "value"),
])
def test_button_bad(args, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        widgets.button(*args, **kwargs)


# --------------------------------------------------------------------------------------- png_bytes

def agg_figure(figsize):
    fig, ax = plot.figure(figsize=figsize)
    FigureCanvasAgg(fig)
    return fig, ax


def test_png_bytes_same_pixels_as_buffer():
    fig, ax = agg_figure((3, 2))
    ax.plot([0, 1, 2], [1, 0, 2])
    ax.set_title("png")
    fig.canvas.draw()
    data = png_bytes(fig)
    assert data.startswith(PNG_MAGIC)
    np.testing.assert_array_equal(decode(data), np.asarray(fig.canvas.buffer_rgba()))


def test_png_bytes_size():
    fig, _ = agg_figure((3, 2))
    fig.canvas.draw()
    assert Image.open(io.BytesIO(png_bytes(fig))).size == (300, 200)


def test_png_bytes_transparent_pixels():
    fig, ax = agg_figure((2, 2))
    fig.patch.set_alpha(0.0)
    ax.patch.set_alpha(0.5)
    fig.canvas.draw()
    np.testing.assert_array_equal(decode(png_bytes(fig)), np.asarray(fig.canvas.buffer_rgba()))


@pytest.mark.parametrize("agg", [False, True], ids=["plot.figure", "undrawn agg"])
def test_png_bytes_on_fresh_figure(agg):
    fig, ax = agg_figure((2, 2)) if agg else plot.figure(figsize=(2, 2))
    ax.plot([0, 1], [0, 1])
    try:
        data = png_bytes(fig)             # renders what it needs to ...
    except TypeError as err:              # ... or says clearly what it needs
        assert "fig" in str(err)
    else:
        assert Image.open(io.BytesIO(data)).size == (200, 200)


# ------------------------------------------------------------------------------------------- Panel

X = np.linspace(0, 2 * np.pi, 100)


def make_panel(animated=True, **kw):
    fig, ax = plot.figure(figsize=(4, 2.5))
    (line,) = ax.plot(X, np.sin(X))
    ax.set_ylim(-2.2, 2.2)
    calls = []

    def update(scale):
        calls.append(scale)
        line.set_ydata(scale * np.sin(X))

    panel = Panel(fig, update, animated=[line] if animated else (),
                  scale=slider("scale", 0.1, 2.0, 0.1, 1.0), **kw)
    return panel, line, calls


def test_panel_renders_png():
    panel, _, calls = make_panel()
    data = panel.png()
    assert data[:8] == PNG_MAGIC
    img = Image.open(io.BytesIO(data))
    assert img.size == panel.fig.canvas.get_width_height() == (400, 250)
    assert calls == [1.0]  # update ran once, with the initial value


def test_panel_widget_tree():
    panel, _, _ = make_panel()
    assert isinstance(panel.widget, W.VBox)
    assert panel.view in panel.widget.children and panel.status in panel.widget.children
    assert panel.values == {"scale": 1.0}


def test_panel_set_calls_update_and_changes_image():
    panel, _, calls = make_panel(animated=False)
    before = panel.png()
    panel.set(scale=0.5)
    assert calls[-1] == 0.5 and panel.values == {"scale": 0.5}
    assert panel.png() != before


def test_panel_set_updates_once():
    panel, _, calls = make_panel()
    panel.set(scale=0.5)
    assert calls == [1.0, 0.5]


def test_panel_blit_changes_image():
    panel, _, _ = make_panel()
    before = panel.png()
    panel.set(scale=0.5)
    assert panel.png() != before


def test_panel_blit_equals_full_redraw():
    panel, _, _ = make_panel()
    panel.set(scale=0.5)  # blit: cached background + the line
    blitted = decode(panel.png())
    panel.refresh(full=True)
    np.testing.assert_array_equal(blitted, decode(panel.png()))


def test_panel_blit_does_not_redraw_figure(monkeypatch):
    panel, _, _ = make_panel()
    draws = []
    monkeypatch.setattr(panel.fig.canvas, "draw", lambda *a, **k: draws.append(1))
    panel.set(scale=0.5)
    assert draws == []


def test_panel_update_returning_true_redraws(monkeypatch):
    fig, ax = plot.figure(figsize=(4, 2.5))
    (line,) = ax.plot(X, np.sin(X))

    def update(scale):
        line.set_ydata(scale * np.sin(X))
        ax.set_ylim(-scale, scale)
        return True

    panel = Panel(fig, update, animated=[line], scale=slider("scale", 0.1, 2.0, 0.1, 1.0))
    real_draw, draws = panel.fig.canvas.draw, []
    monkeypatch.setattr(panel.fig.canvas, "draw", lambda *a, **k: (draws.append(1), real_draw(*a, **k)))
    before = panel.png()
    panel.set(scale=2.0)
    assert draws == [1]
    assert ax.get_ylim() == (-2.0, 2.0) and panel.png() != before


def test_panel_slider_change_triggers_update():
    panel, _, calls = make_panel()
    before = panel.png()
    panel.controls["scale"].value = 1.5   # what a user's drag does
    assert calls[-1] == 1.5 and panel.png() != before
    assert panel.status.value == ""


def test_panel_set_unknown_control():
    panel, _, _ = make_panel()
    with pytest.raises(ValueError, match=r"bogus.*scale"):
        panel.set(bogus=1)


def test_panel_callback_error_shown_in_status():
    fig, ax = plot.figure(figsize=(3, 2))
    (line,) = ax.plot([0, 1], [0, 1])

    def update(scale):
        if scale > 1.5:
            raise RuntimeError("scale too large to draw")
        line.set_ydata([0, scale])

    panel = Panel(fig, update, animated=[line], scale=slider("scale", 0.1, 2.0, 0.1, 1.0))
    panel.controls["scale"].value = 1.9   # must not raise
    assert "RuntimeError" in panel.status.value and "scale too large to draw" in panel.status.value
    panel.controls["scale"].value = 0.5
    assert panel.status.value == ""


def test_panel_set_error_raises():
    fig, ax = plot.figure(figsize=(3, 2))

    def update(scale):
        if scale > 1.5:
            raise RuntimeError("boom")

    panel = Panel(fig, update, scale=slider("scale", 0.1, 2.0, 0.1, 1.0))
    with pytest.raises(RuntimeError, match="boom"):
        panel.set(scale=1.9)


def test_panel_closes_pyplot_figure():
    fig, ax = plt.subplots()
    num = fig.number
    Panel(fig, lambda scale: None, scale=slider("scale", 0, 5))
    assert not plt.fignum_exists(num)


def test_panel_several_controls():
    fig, ax = plot.figure(figsize=(3, 2))
    seen = []
    panel = Panel(fig, lambda n, act: seen.append((n, act)),
                  n=slider("n", 1, 5), act=widgets.dropdown("act", ["tanh", "relu"]))
    panel.set(n=3, act="relu")
    assert seen == [(1, "tanh"), (3, "relu")]


@pytest.mark.parametrize("make, exc, match", [
    (lambda fig: Panel(None, lambda s: None, s=slider("s", 0, 1)), TypeError, "fig"),
    (lambda fig: Panel(fig, "update", s=slider("s", 0, 1)), TypeError, "update"),
    (lambda fig: Panel(fig, lambda: None), ValueError, "control"),
    (lambda fig: Panel(fig, lambda s: None, s=3), TypeError, "control 's'"),
], ids=["fig", "update", "no controls", "control type"])
def test_panel_bad_args(make, exc, match):
    fig, _ = plot.figure(figsize=(2, 2))
    with pytest.raises(exc, match=match):
        make(fig)


def test_panel_benchmark():
    fig, ax = plot.figure(figsize=(3, 2))
    (line,) = ax.plot(X, np.sin(X))
    panel = Panel(fig, lambda scale, n: line.set_ydata(scale * np.sin(n * X)), animated=[line],
                  scale=slider("scale", 0.1, 2.0, 0.1, 1.0), n=slider("freq", 1, 4))
    rows = panel.benchmark(n_values=3)
    assert [r["control"] for r in rows] == ["scale", "freq"]
    assert all(r["median_ms"] > 0 and r["p95_ms"] >= r["median_ms"] and r["n"] >= 2 for r in rows)
    assert panel.values == {"scale": 1.0, "n": 1}  # settings restored


def test_panel_button_click_updates():
    fig, ax = plot.figure(figsize=(3, 2))
    (line,) = ax.plot(X, np.sin(X))
    seen = []

    def update(scale, draw):
        seen.append(draw)
        line.set_ydata(scale * np.sin(X + draw))

    panel = Panel(fig, update, animated=[line], scale=slider("scale", 0.1, 2.0, 0.1, 1.0),
                  draw=widgets.button("resample"))
    before = panel.png()
    panel.controls["draw"].click()  # a click is a change of value: one update, one redraw
    assert seen == [0, 1] and panel.png() != before
    panel.set(draw=7)
    assert seen[-1] == 7
    rows = panel.benchmark(n_values=3)
    assert [r["control"] for r in rows] == ["scale", "resample"] and 10 in seen  # 8, 9, 10 clicks
    assert panel.values == {"scale": 1.0, "draw": 7}  # settings restored


def test_benchmark_all_includes_panel(monkeypatch):
    # panels of earlier tests stay alive (ipywidgets keeps every open widget): start afresh
    monkeypatch.setattr(widgets, "_PANELS", weakref.WeakSet())
    panel, _, _ = make_panel()
    other, _, _ = make_panel()
    rows = widgets.benchmark_all(n_values=2)
    assert [(r["panel"], r["control"]) for r in rows] == [(panel.serial, "scale"), (other.serial, "scale")]
    assert all(r["median_ms"] > 0 for r in rows)


# ------------------------------------------------------------------- partial redraws of subfigures
def _two_row_panel():
    fig, titles, axes = plot.figure_rows(2, 2, figsize=(6, 5))
    lines = [[ax.plot(np.arange(10), np.arange(10) * (i + 1))[0] for ax in row] for i, row in enumerate(axes)]
    state = {"rows": [None, None]}

    def update(a, b):
        for i, value in enumerate((a, b)):
            if state["rows"][i] == value:
                continue  # unchanged row: its artists are left alone, so it is not redrawn
            state["rows"][i] = value
            for line in lines[i]:
                line.set_ydata(np.arange(10) * value)
            titles[i].set_text(f"row {i}: {value}")

    animated = [a for i in range(2) for a in (*lines[i], titles[i])]
    panel = widgets.Panel(fig, update, animated=animated,
                          a=widgets.slider("a", 1, 5, 1, 1), b=widgets.slider("b", 1, 5, 1, 2))
    return panel


def _pixels(panel):
    return np.asarray(Image.open(io.BytesIO(panel.png()))).copy()


@pytest.mark.parametrize("change", [{"a": 3}, {"b": 4}, {"a": 2, "b": 5}])
def test_partial_redraw_equals_full_redraw(change):
    panel = _two_row_panel()
    panel.set(**change)                 # redraws only the rows that changed
    partial = _pixels(panel)
    panel.refresh(full=True)            # everything from scratch
    assert np.array_equal(partial, _pixels(panel))


def _record_frames(panel, monkeypatch) -> list:
    """What the panel sends the browser: one (png, rects, width, height) per frame."""
    frames = []
    monkeypatch.setattr(panel.view, "send_frame", lambda png, rects, w, h, ack=False: frames.append(
        (png, rects, w, h)))
    return frames


def _paste(shown, frames):
    """What the browser does with the frames: paste each rectangle of each PNG over its picture."""
    for png, rects, _, _ in frames:
        if png is None:                            # an ack alone: nothing changed
            assert rects == []
            continue
        atlas = np.asarray(Image.open(io.BytesIO(png)))
        for x, y, sx, sy, w, h in rects:
            shown[y:y + h, x:x + w] = atlas[sy:sy + h, sx:sx + w]
    return shown


def test_untouched_panel_sends_nothing(monkeypatch):
    panel = _two_row_panel()
    frames = _record_frames(panel, monkeypatch)
    panel.refresh()                     # nothing stale: nothing to do
    assert frames == []


@pytest.mark.parametrize("change", [{"a": 3}, {"b": 4}, {"a": 2, "b": 5}])
def test_frames_sent_rebuild_the_figure(change, monkeypatch):
    """What the browser does: paste each rectangle over the picture it has; it must end with the
    figure as the kernel has it, having been sent less than the figure (only what changed)."""
    panel = _two_row_panel()
    shown = _pixels(panel)
    frames = _record_frames(panel, monkeypatch)
    panel.set(**change)
    width, height = panel.fig.canvas.get_width_height()
    assert len(frames) == 1 and frames[0][2:] == (width, height)
    assert np.array_equal(_paste(shown, frames), _pixels(panel))
    sent = sum(w * h for _, rects, _, _ in frames for *_, w, h in rects)
    assert sent < width * height / 2


def test_frames_follow_a_drag(monkeypatch):
    """Many relayed values in a row, each frame pasted over the last: the browser's picture stays
    the kernel's, frame after frame (each sent against what the browser has, not a fresh start)."""
    panel = _two_row_panel()
    shown = _pixels(panel)
    frames = _record_frames(panel, monkeypatch)
    for seq, (a, b) in enumerate([(2, 2), (3, 2), (3, 5), (1, 1), (5, 4), (5, 4), (2, 3)], 1):
        panel.view._message(panel.view, {"type": "values", "seq": seq, "values": {"a": a, "b": b}}, [])
        assert np.array_equal(_paste(shown, frames), _pixels(panel))
        frames.clear()


def _image_under_a_curve_panel():
    """An image that only ``level`` changes, a curve that ``phase`` moves over it."""
    fig, ax = plot.figure(figsize=(4, 3))
    image = ax.imshow(np.zeros((20, 20)), vmin=0, vmax=5, extent=(0, 10, -2, 2), aspect="auto")
    (line,) = ax.plot(X, np.sin(X), color="white")
    shown = {"level": None}
    draws = []
    image.draw = lambda renderer, _draw=image.draw: draws.append(1) or _draw(renderer)

    def update(level, phase):
        if level != shown["level"]:
            image.set_data(np.full((20, 20), float(level)) + np.arange(20) / 10)
            shown["level"] = level
        line.set_ydata(np.sin(X + phase))

    panel = Panel(fig, update, animated=[image, line], level=slider("level", 0, 4, 1, 1),
                  phase=slider("phase", 0.0, 3.0, 0.5, 0.0))
    return panel, draws


def test_artists_before_the_first_change_are_not_redrawn():
    panel, draws = _image_under_a_curve_panel()
    panel.set(phase=0.5)                 # the image is drawn once more, and kept with the background
    n = len(draws)
    for phase in (1.0, 1.5, 2.0):
        panel.set(phase=phase)
    assert len(draws) == n               # only the curve moved: the image was not drawn again
    for change in ({"phase": 2.5}, {"level": 3}, {"phase": 0.5}, {"level": 3, "phase": 1.0}):
        panel.set(**change)
        partial = _pixels(panel)
        panel.refresh(full=True)         # everything from scratch
        assert np.array_equal(partial, _pixels(panel)), change
    panel.set(level=0)
    assert len(draws) > n                # a new level redraws the image


def test_a_new_view_is_sent_the_whole_figure(monkeypatch):
    panel = _two_row_panel()
    panel.set(a=4)
    frames = _record_frames(panel, monkeypatch)
    panel.view._message(panel.view, {"type": "hello"}, [])   # what a view sends when it opens
    (png, rects, w, h), = frames
    assert rects == [(0, 0, 0, 0, w, h)] and png == panel.png()


def test_changed_rects_cover_every_changed_pixel():
    rng = np.random.default_rng(0)
    old = np.full((300, 500, 4), 255, np.uint8)
    new = old.copy()
    new[10:12, 5:480] = 0                          # a line across the top
    new[100:250, 200] = 7                          # a vertical line
    new[299, 499, 3] = 0                           # one channel of the last pixel
    for y, x in rng.integers((0, 300), (300, 500), size=(20, 2)):   # scattered, right of the line
        new[y, x] = rng.integers(0, 256, 4)
    rects = widgets.changed_rects(new, old)
    covered = np.zeros(new.shape[:2], bool)
    for x, y, w, h in rects:
        assert 0 <= x and 0 <= y and x + w <= 500 and y + h <= 300 and w > 0 and h > 0
        covered[y:y + h, x:x + w] = True
    assert covered[(new != old).any(axis=2)].all()
    assert covered.mean() < 0.5                     # and not much more than that
    # the vertical line's bands share their columns: one tall rectangle, not one per band
    assert any(w == 1 and h >= 100 for x, y, w, h in rects)
    assert widgets.changed_rects(new, new) == []
    # inside a box: only that box is compared
    assert widgets.changed_rects(new, old, (0, 50, 300, 40)) == []
    assert widgets.changed_rects(new, old, (0, 0, 100, 20)) == [(5, 0, 95, 20)]
    with pytest.raises(ValueError, match="uint8"):
        widgets.changed_rects(new[..., :3], old[..., :3])


def test_pack_rects_puts_every_rectangle_in_one_image():
    rng = np.random.default_rng(1)
    buffer = rng.integers(0, 256, (200, 300, 4), dtype=np.uint8)
    rects = [(0, 0, 300, 32), (10, 40, 20, 64), (250, 100, 50, 32), (0, 180, 7, 20), (120, 60, 90, 96)]
    atlas, places = widgets.pack_rects(buffer, rects)
    boxes = []
    for (x, y, w, h), (sx, sy) in zip(rects, places):
        assert np.array_equal(atlas[sy:sy + h, sx:sx + w], buffer[y:y + h, x:x + w])
        boxes.append((sx, sy, w, h))
    for i, (ax, ay, aw, ah) in enumerate(boxes):          # no two overlap in the atlas
        for bx, by, bw, bh in boxes[i + 1:]:
            assert ax + aw <= bx or bx + bw <= ax or ay + ah <= by or by + bh <= ay
    # shelves waste the space beside short rectangles (measured on 02, 03, 05: 1.3-1.5x the area)
    assert atlas.shape[0] * atlas.shape[1] < 2.5 * sum(w * h for *_, w, h in rects)
    one, at = widgets.pack_rects(buffer, [(5, 6, 7, 8)])
    assert at == [(0, 0)] and np.array_equal(one, buffer[6:14, 5:12])


def test_panel_view_is_a_canvas_widget():
    """The browser side: anywidget's ESM draws into a <canvas class="dlcore-figure">, and the
    static copy still gets the figure as an image."""
    panel = _two_row_panel()
    assert "dlcore-figure" in panel.view._esm and "createImageBitmap" in panel.view._esm
    bundle = panel._repr_mimebundle_()
    assert base64.b64decode(bundle["image/png"]) == panel.png() == panel.view.png


def test_figure_rows_with_a_column_count_per_row():
    fig, titles, axes = plot.figure_rows(2, [4, 2])
    assert [len(row) for row in axes] == [4, 2] and len(titles) == 2
    with pytest.raises(ValueError, match="ncols"):
        plot.figure_rows(2, [3])


def test_loss_curves_keep_a_colour_per_name():
    from dlcore.train import History

    h = History(step=[1, 2], loss=[1.0, 0.5])
    fig, axes = plot.figure(1, 2)
    a = plot.loss_curves(axes[0], {"x": h, "y": h}, colors={"y": "#123456"})
    b = plot.loss_curves(axes[1], {"y": h}, colors={"y": "#123456"})
    assert a["y"].get_color() == b["y"].get_color() == "#123456"


def test_style_lets_ipython_draw_figures_made_outside_pyplot(monkeypatch):
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    monkeypatch.setattr("IPython.get_ipython", lambda: shell)
    plot.style()
    fig, ax = plot.figure(figsize=(2, 2))
    ax.plot([0, 1])
    data, _ = shell.display_formatter.format(fig)
    assert data["image/png"][:8] == b"\x89PNG\r\n\x1a\n"


def test_panel_display_carries_widget_and_static_image():
    """A static export (nbconvert, GitHub, nbviewer) has no widget state: it shows image/png."""
    import base64

    fig, ax = plot.figure(figsize=(3, 2))
    (line,) = ax.plot([0, 1], [0, 1])
    panel = Panel(fig, lambda scale: line.set_ydata([0, scale]), animated=[line],
                  scale=slider("scale", 0.1, 2.0, 0.1, 1.0))
    data = panel._repr_mimebundle_()
    assert data["application/vnd.jupyter.widget-view+json"]["model_id"] == panel.widget.model_id
    png = base64.b64decode(data["image/png"])
    assert png.startswith(b"\x89PNG") and png == panel.png()   # the figure as last drawn
    assert data["text/plain"] == f"<Panel {panel.serial}: scale=1>"
    panel.set(scale=0.5)
    assert base64.b64decode(panel._repr_mimebundle_()["image/png"]) == panel.png() != png


def test_panel_display_through_ipython_formatter():
    from IPython.core.formatters import DisplayFormatter

    fig, ax = plot.figure(figsize=(3, 2))
    panel = Panel(fig, lambda scale: None, scale=slider("scale", 0.1, 2.0, 0.1, 1.0))
    data, _ = DisplayFormatter().format(panel)
    assert {"image/png", "application/vnd.jupyter.widget-view+json", "text/plain"} <= set(data)


def test_background_key_restores_a_picture_seen_before():
    """A drop-down between static pictures: coming back to one reuses its cached background and
    gives the same pixels as a fresh full draw."""
    fig, ax = plot.figure(figsize=(3, 2))
    (line,) = ax.plot([0, 1], [0, 1])
    shown = {"ylim": None}
    draws = []

    def update(top, scale):
        line.set_ydata([0, scale])
        if top != shown["ylim"]:
            ax.set_ylim(0, top)
            shown["ylim"] = top
            return True

    panel = Panel(fig, update, animated=[line], background_key=lambda: shown["ylim"],
                  top=widgets.dropdown("top", [1.0, 2.0]), scale=slider("scale", 0.1, 1.0, 0.1, 0.5))
    real_draw = fig.canvas.draw
    fig.canvas.draw = lambda: (draws.append(1), real_draw())[1]
    panel.set(top=2.0)                     # new picture: one full draw
    panel.set(top=1.0, scale=0.8)          # seen before: no draw
    assert len(draws) == 1
    cached = panel.png()
    fig.canvas.draw = real_draw
    fresh = Panel(fig, update, animated=[line], top=widgets.dropdown("top", [1.0, 2.0]),
                  scale=slider("scale", 0.1, 1.0, 0.1, 0.8))
    assert fresh.png() == cached


@pytest.mark.parametrize("kw, err, match", [
    ({"background_key": "surface", "animated": [None]}, TypeError, "background_key must be callable"),
    ({"background_key": lambda: 0}, ValueError, "animated"),
])
def test_background_key_bad_arguments(kw, err, match):
    fig, ax = plot.figure(figsize=(3, 2))
    with pytest.raises(err, match=match):
        Panel(fig, lambda s: None, s=slider("s", 0, 1), **kw)


def _relay_panel(monkeypatch):
    fig, ax = plot.figure(figsize=(3, 2))
    (line,) = ax.plot(X, np.sin(X))
    calls = []

    def update(scale, n, kind, slow):
        calls.append((scale, n, kind))
        line.set_ydata(scale * np.sin(n * X))

    panel = Panel(fig, update, animated=[line], scale=slider("scale", 0.1, 2.0, 0.1, 1.0),
                  n=slider("n", 1, 5, 1, 1), kind=widgets.dropdown("kind", ["a", "b"]),
                  slow=slider("slow", 0.0, 1.0, 0.1, 0.5, continuous_update=False))
    acks = []
    monkeypatch.setattr(panel.view, "send_frame", lambda png, rects, w, h, ack=False: acks.append((len(rects) > 0, ack)))
    return panel, calls, acks


def test_relay_names_only_continuous_sliders(monkeypatch):
    panel, _, _ = _relay_panel(monkeypatch)
    names = [name for name, _ in panel.view.relay]
    assert names == ["scale", "n"]          # not the drop-down, not the slider that retrains
    assert all(ref == f"IPY_MODEL_{panel.controls[n].model_id}" for n, ref in panel.view.relay)


def test_relayed_values_are_drawn_and_answered(monkeypatch):
    panel, calls, acks = _relay_panel(monkeypatch)
    panel.view._message(panel.view, {"type": "values", "seq": 1, "values": {"scale": 1.5, "n": 3.0}}, [])
    assert calls[-1] == (1.5, 3, "a") and isinstance(calls[-1][1], int)   # an IntSlider's value stays int
    assert acks == [(True, True)]            # one frame, and it acknowledges the values
    # the same values again: nothing to draw, but still an answer (the browser waits for it)
    panel.view._message(panel.view, {"type": "values", "seq": 2, "values": {"scale": 1.5, "n": 3}}, [])
    assert len(calls) == 2 and acks[-1] == (False, True)
    # names it does not know, and non-numbers, are ignored
    panel.view._message(panel.view, {"type": "values", "seq": 3, "values": {"kind": "b", "x": 1, "n": "2"}}, [])
    assert len(calls) == 2 and acks[-1] == (False, True)


def test_relay_answers_even_when_update_raises(monkeypatch):
    panel, _, acks = _relay_panel(monkeypatch)
    panel.update = lambda **kw: 1 / 0
    panel.view._message(panel.view, {"type": "values", "seq": 1, "values": {"scale": 0.5}}, [])
    assert acks == [(False, True)] and "ZeroDivisionError" in panel.status.value


def test_after_the_relay_speaks_its_sliders_syncs_draw_nothing(monkeypatch):
    """ipywidgets still syncs a dragged slider, one message at a time and often stale: once the
    relay has sent values, those syncs must not draw (an old value would flash back)."""
    panel, calls, _ = _relay_panel(monkeypatch)
    panel.controls["scale"].value = 0.3           # no relay yet: the ipywidgets way draws
    assert calls[-1][0] == 0.3
    panel.view._message(panel.view, {"type": "values", "seq": 1, "values": {"scale": 1.7}}, [])
    n = len(calls)
    panel.controls["scale"].value = 0.9           # a stale sync of a relayed slider
    assert len(calls) == n
    panel.controls["kind"].value = "b"            # a drop-down still draws, with the latest values
    assert len(calls) == n + 1 and calls[-1][2] == "b"


def test_view_knows_every_slider_for_arrow_keys(monkeypatch):
    """The view steps sliders on arrow keys itself (Notebook 7 takes them otherwise): it needs every
    slider, retraining ones too, in the order shown, and nothing else."""
    panel, _, _ = _relay_panel(monkeypatch)
    c = panel.controls
    assert panel.view.sliders == [f"IPY_MODEL_{c[n].model_id}" for n in ("scale", "n", "slow")]
    assert "ArrowRight" in panel.view._esm and 'addEventListener("keydown", onKey, true)' in panel.view._esm
