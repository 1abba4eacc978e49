"""Notebook 10's figure and live panel: a :class:`dlcore.playground.Playground` drawn as the
decision surface over the points, the training and test loss, per-layer saturated or dead
units, per-layer update/weight ratios and gradients, and the diagnosis.

    play = live(pg)            # the knobs as controls, start / pause / step / reset / diagnose
    play                       # shows it (a Panel: it redraws in place, and leaves an image)
    snapshot(pg)               # the same figure once, as a static picture (the tour's)

While running, training goes in chunks of ``steps_per_frame`` steps on the kernel's asyncio
loop: train a chunk, update the artists, ``panel.refresh()``, ``await asyncio.sleep(...)``. Button
clicks and slider moves are handled between chunks, so the student can pause, or change a knob
mid-run. Nothing runs until Start is clicked (a notebook run under nbval leaves nothing behind).
The figure draws what the playground measured; the numbers the lesson checks read come from the
playground itself, never from here.
"""
from __future__ import annotations

import asyncio
import math
import time

import matplotlib as mpl
import matplotlib.transforms as mtransforms
import numpy as np
from matplotlib.figure import Figure

from .. import plot, widgets
from ..playground import (ACTIVATIONS, DATASETS, DEFAULTS, INITS, OPTIMIZERS, SCHEDULES, STRUCTURAL,
                          Playground)

GRID = 60                       # the decision surface's n x n grid
UP = 3                          # upsampled bilinearly 3x, then drawn "nearest": smooth and cheap
MAX_LAYERS = 9                  # bars drawn for up to 8 hidden layers + the output layer
LOSS_RANGE = (1e-3, 10.0)
RATIO_RANGE = (1e-7, 1.0)
PASS, FAIL = plot.PALETTE[2], plot.PALETTE[3]
L2_CHOICES = (0.0, 1e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1)
BUTTONS = ("start", "pause", "step", "reset", "diagnose")


def _fmt(v: float) -> str:
    return f"{v:.2g}" if v else "0"


class Figure10:
    """The playground's figure and its artists; :meth:`draw` puts a playground's state on them
    and returns True when something static changed (limits, ticks, the number of layers)."""

    def __init__(self, figsize=(15, 5.6)):
        fig = Figure(figsize=figsize, layout="constrained")
        # one subfigure per part that changes on its own: the Panel redraws and sends only the parts
        # whose artists changed (the step's numbers and the plots every frame; the knob line when a
        # knob moves; the verdicts, static, when diagnose is pressed)
        status, knobs, body = fig.subfigures(3, 1, height_ratios=[0.05, 0.045, 0.905])
        plots, side = body.subfigures(1, 2, width_ratios=[4.15, 1.15])
        self.fig = fig
        self.ax_surf, self.ax_loss, self.ax_act, self.ax_grad = plots.subplots(
            1, 4, gridspec_kw={"width_ratios": [1.15, 1.2, 0.85, 0.95]})
        self.ax_text = side.subplots()
        title_size = mpl.rcParams["axes.titlesize"]
        # in presenter mode the four panels' titles are too wide for one line each side by side
        self._presenter = plot.is_presenter()
        self._br = br = "\n" if self._presenter else " "
        self.status = status.text(0.5, 0.5, " ", ha="center", va="center", fontsize=title_size, fontweight="bold")
        self.knob_line = knobs.text(0.5, 0.5, " ", ha="center", va="center", fontsize=title_size)
        ax = self.ax_surf
        self.image = ax.imshow(np.full((GRID * UP, GRID * UP), 0.5), origin="lower", cmap=plot.class_colormap(),
                               vmin=0, vmax=1, extent=(-2, 2, -2, 2), interpolation="nearest", aspect="auto")
        ms = 6 if plot.is_presenter() else 4.5
        # markers through Line2D (one cached marker stamped n times): ~10x cheaper to draw than scatter
        self.dots = []
        for split, fill in (("train", True), ("test", False)):
            for c in (0, 1):
                colour = plot.PALETTE[c]
                (line,) = ax.plot([], [], "o", ms=ms, mec="white" if fill else colour, mew=0.6 if fill else 1.4,
                                  mfc=colour if fill else "white", zorder=3,
                                  label=split if c == 0 else None)
                self.dots.append(line)
        ax.set_xlabel("$x_1$ (standardised)")
        ax.set_ylabel("$x_2$ (standardised)")
        ax.set_title(f"P(orange){br}over the plane")
        ax.grid(False)
        ax.legend(loc="upper right", fontsize="small", framealpha=0.8, frameon=True)
        for leg in ax.get_legend().legend_handles:
            leg.set_markerfacecolor("0.3") if leg.get_label() == "train" else leg.set_markeredgecolor("0.3")
        ax = self.ax_loss
        (self.train_line,) = ax.plot([], [], color=plot.PALETTE[0], label="training loss")
        (self.test_line,) = ax.plot([], [], color=plot.PALETTE[3], label="test loss")
        ax.set_yscale("log")
        ax.set_ylim(*LOSS_RANGE)
        ax.axhline(math.log(2), color="0.5", ls=":", lw=1.2)
        ax.text(0.99, math.log(2) * 1.12, "log 2", transform=ax.get_yaxis_transform(), ha="right", color="0.4")
        ax.set_xlabel("step")
        ax.set_ylabel("cross-entropy (eval mode)")
        ax.set_title(f"training and{br}test loss")
        ax.legend(loc="lower left")
        self.xmax = 0
        ax = self.ax_act
        x = np.arange(1, MAX_LAYERS + 1)
        self.act_bars = ax.bar(x, np.zeros(MAX_LAYERS), color=plot.PALETTE[4], width=0.7)
        ax.axhline(50, color="0.4", ls=":", lw=1.2)
        ax.set_ylim(0, 100)
        ax.set_xlabel("hidden layer")
        ax.set_ylabel("% of units")
        ax = self.ax_grad
        self.ratio_bars = ax.bar(x, np.zeros(MAX_LAYERS), bottom=RATIO_RANGE[0], color=plot.PALETTE[0],
                                 width=0.7, label="update/weight")
        (self.grad_dots,) = ax.plot([], [], "D", color="black", ms=7, label="RMS ∂C/∂z")
        ax.set_yscale("log")
        ax.set_ylim(*RATIO_RANGE)
        ax.axhspan(1e-4, 1e-2, color=plot.PALETTE[2], alpha=0.12, label="1e-3 band (09)")
        ax.set_xlabel("layer")
        ax.set_title(f"update/weight,{br}∂C/∂z")
        # compact (short handles): at presenter sizes it stays inside the axes, off the tick labels
        ax.legend(loc="upper right", fontsize="small", handlelength=1.0, handletextpad=0.4, borderaxespad=0.3)
        # The layer numbers under the bars are animated texts, not ticks: with no x ticks (and so no
        # x grid lines) nothing static depends on these two axes' x-limits, so a new depth moves only
        # animated artists instead of asking for a full redraw (~130 ms).
        self.layer_labels = {}
        for ax in (self.ax_act, self.ax_grad):
            ax.set_xticks([])
            size, pad = mpl.rcParams["xtick.labelsize"], mpl.rcParams["xtick.major.pad"] + mpl.rcParams["xtick.major.size"]
            under = mtransforms.offset_copy(ax.get_xaxis_transform(), fig=fig, y=-pad, units="points")
            self.layer_labels[ax] = [ax.text(i, 0, "", transform=under, ha="center", va="top", fontsize=size,
                                             color=mpl.rcParams["xtick.labelcolor"] if mpl.rcParams["xtick.labelcolor"]
                                             != "inherit" else mpl.rcParams["xtick.color"], clip_on=False)
                                     for i in range(1, MAX_LAYERS + 1)]
            # where the tick labels were: the axis label stays below the numbers, as far as below tick
            # labels (level with the other panels' axis labels)
            ax.xaxis.labelpad = mpl.rcParams["axes.labelpad"] + pad + _text_height(size)
        ax = self.ax_text
        ax.axis("off")
        self.verdicts = [ax.text(0.0, 0.97 - 0.13 * i, " ", va="top", ha="left", wrap=False,
                                 transform=ax.transAxes, fontsize="small") for i in range(7)]
        # animated: the activation's name (below); as many lines as it will have, for the layout
        self.act_title = self.ax_act.set_title(f" {br} ")
        self.key = None              # what the static part shows: (extent, layers, xmax)
        self._diagnosis = ()         # the diagnosis the verdicts show (none yet)
        self._window = None          # (data set, the surface's window (x0, x1, y0, y1))
        self._data = None            # the training set the dots show

    @property
    def animated(self) -> list:
        # The verdicts and the activation's title are animated, so a click on diagnose or a new
        # activation is not a full redraw (~130 ms): the verdicts sit alone in the side subfigure, which
        # is redrawn only when they change (not at each training frame). Limits and ticks (a new
        # data set, depth, a longer run) are static and still ask for one full redraw.
        return [self.image, *self.dots, self.train_line, self.test_line, *self.act_bars, *self.ratio_bars,
                self.grad_dots, self.act_title, *self.layer_labels[self.ax_act], *self.layer_labels[self.ax_grad],
                self.knob_line, self.status, *self.verdicts]

    def draw(self, pg: Playground, *, state: str = "", diagnosis=None) -> bool:
        """Put ``pg``'s current state on the artists; True when the static part must be redrawn."""
        # the window only grows while the data set stays (noise or the split move the points a
        # little): its limits and ticks are static, and a new window is a full redraw
        fits = pg.data_window()
        if self._window is None or self._window[0] != pg.knobs["dataset"]:
            window = fits
        else:
            w = self._window[1]
            window = (min(w[0], fits[0]), max(w[1], fits[1]), min(w[2], fits[2]), max(w[3], fits[3]))
        self._window = (pg.knobs["dataset"], window)
        p, extent = pg.surface(GRID, window=window)
        self.image.set_data(_smooth(p))
        self.image.set_extent(extent)
        if self._data is not pg.train:
            dots = iter(self.dots)
            for X, y in (pg.train, pg.test):
                X, y = plot.as_numpy(X), plot.as_numpy(y)
                for c in (0, 1):
                    next(dots).set_data(X[y == c, 0], X[y == c, 1])
            self._data = pg.train
        h = pg.history
        steps = np.asarray(h["step"])
        for line, key in ((self.train_line, "train_loss"), (self.test_line, "test_loss")):
            v = np.asarray(h[key], dtype=float)
            ok = np.isfinite(v)
            line.set_data(steps[ok], np.clip(v[ok], *LOSS_RANGE))
        xmax = 200
        while xmax < pg.step:
            xmax *= 2
        stats = pg.layer_stats()
        act = pg.knobs["activation"]
        n_hidden, n_layers = len(stats), len(stats) + 1
        which = {"tanh": "saturated", "sigmoid": "saturated", "relu": "dead"}.get(act)
        for i, bar in enumerate(self.act_bars):
            v = stats[i][which] if which and i < n_hidden else 0.0
            bar.set_height(100 * v if math.isfinite(v) else 0.0)
        ratios = [row["ratio"] for row in stats] + [pg.output_ratio()]
        for i, bar in enumerate(self.ratio_bars):
            v = ratios[i] if i < n_layers else math.nan
            top = min(max(v, RATIO_RANGE[0]), RATIO_RANGE[1]) if math.isfinite(v) else RATIO_RANGE[0]
            bar.set_height(top - RATIO_RANGE[0])
        g = np.array([row["grad_rms"] for row in stats], dtype=float)
        self.grad_dots.set_data(np.arange(1, n_hidden + 1), np.clip(np.nan_to_num(g, nan=RATIO_RANGE[0]),
                                                                    *RATIO_RANGE))
        tl, vl, acc = h["train_loss"][-1], h["test_loss"][-1], h["test_acc"][-1]
        if pg.stopped:
            state = f"diverged at step {pg.diverged_at}: press reset"
        self.status.set_text(f"step {pg.step:,} · training loss {_loss(tl)} · test loss {_loss(vl)} · "
                             f"test accuracy {acc:.0%} · η_t {pg.rate:.2g}{' · ' + state if state else ''}")
        # one line, centred in its subfigure: every pixel of it inside the subfigure, which is
        # redrawn on its own (a second line's glyphs reached into the plots below, and were erased
        # there by a frame that redrew only the plots)
        self.knob_line.set_text(describe(pg))
        if diagnosis is not self._diagnosis:
            self._verdicts(pg, diagnosis)
            self._diagnosis = diagnosis
        br = self._br
        title = {"saturated": f"saturated{br}({act})", "dead": f"dead{br}(ReLU)"}.get(which, f"({act}:{br}none)")
        if self.act_title.get_text() != title:
            self.act_title.set_text(title)
        # at presenter sizes a deep net's "7 8 out" run together under the narrow panel: number
        # every other hidden layer there, the one beside "out" left blank
        every = 2 if self._presenter and n_hidden >= 7 else 1
        for ax, n, names in ((self.ax_act, n_hidden, [str(i) for i in range(1, n_hidden + 1)]),
                             (self.ax_grad, n_layers,
                              [str(i) if (n_hidden + 1 - i) % every == 0 else "" for i in range(1, n_hidden + 1)] + ["out"])):
            if ax.get_xlim() != (0.4, n + 0.6):
                ax.set_xlim(0.4, n + 0.6)
                for i, label in enumerate(self.layer_labels[ax]):
                    label.set_text(names[i] if i < n else "")
                    label.set_visible(i < n)
        key = (extent, xmax)
        changed = key != self.key
        if changed:
            self.key = key
            self.ax_surf.set_xlim(extent[0], extent[1])
            self.ax_surf.set_ylim(extent[2], extent[3])
            self.ax_loss.set_xlim(0, xmax)
        return changed

    def _verdicts(self, pg, diagnosis) -> None:
        texts = self.verdicts
        if diagnosis is None:
            texts[0].set_text("diagnose: notebook 09's checks\non this network, at the\nstep it is pressed")
            texts[0].set_color("0.35")
            for t in texts[1:]:
                t.set_text(" ")
            return
        step, checks = diagnosis
        texts[0].set_text(f"diagnosis at step {step:,}:")
        texts[0].set_color("black")
        for t, r in zip(texts[1:], list(checks) + [None] * len(texts)):
            if r is None:
                t.set_text(" ")
                continue
            status = "PASS" if r.passed else "FAIL"
            t.set_text(f"{status} {r.name}\n   {r.details.get('short', '')}")
            t.set_color(PASS if r.passed else FAIL)


def _text_height(size) -> float:
    """The height in points matplotlib gives one line of text at this font size (a tick label's)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    probe = Figure(dpi=72)                      # 72 dpi: pixels are points
    FigureCanvasAgg(probe)
    return probe.text(0, 0, "1", fontsize=size).get_window_extent(probe.canvas.get_renderer()).height


def _smooth(p: np.ndarray) -> np.ndarray:
    """An (n, n) grid -> (UP n, UP n), bilinear: drawn with interpolation="nearest" it looks smooth
    without matplotlib's slower bilinear resampling at every frame."""
    import torch
    import torch.nn.functional as F

    img = torch.as_tensor(np.asarray(p, dtype=np.float32))[None, None]
    return F.interpolate(img, scale_factor=UP, mode="bilinear", align_corners=False)[0, 0].numpy()


def _loss(v: float) -> str:
    return f"{v:.3f}" if math.isfinite(v) and v < 100 else ("diverged" if not math.isfinite(v) else f"{v:.3g}")


def describe(pg: Playground) -> str:
    """The knobs in one line, as the figure's second title line shows them."""
    k = pg.knobs
    opt = {"sgd": "SGD", "momentum": "momentum", "nesterov": "Nesterov", "adagrad": "AdaGrad",
           "rmsprop": "RMSprop", "adam": "Adam", "adamw": "AdamW"}[k["optimizer"]]
    hyper = (f", μ {k['momentum']:.2g}" if k["optimizer"] in ("momentum", "nesterov") else
             f", β₁ {k['momentum']:.2g}" if k["optimizer"] in ("adam", "adamw") else "")
    init = "N(0, σ²)" if k["init"] == "normal" else k["init"]
    return (f"{k['dataset']}, noise {k['noise']:.2f}, {k['train_fraction']:.0%} train · {k['depth']}x{k['width']} "
            f"{k['activation']}{', BN' if k['batchnorm'] else ''}{', dropout ' + _fmt(k['dropout']) if k['dropout'] else ''}"
            f" · init {init} x{k['init_scale']:.2g} · {opt} η {k['lr']:.2g}{hyper}, {k['schedule']}"
            f" · λ {_fmt(k['l2'])} · m {k['batch_size']}")


def snapshot(pg: Playground, *, diagnosis: bool = False) -> Figure:
    """The playground's figure at its current state, drawn once (a static picture)."""
    f = Figure10()
    f.draw(pg, diagnosis=(pg.step, pg.diagnose()) if diagnosis else None)
    return f.fig


class Live:
    """The live panel: the knobs as controls and the buttons; see the module docstring.

    ``panel`` is the :class:`dlcore.widgets.Panel`; ``frames`` counts the frames drawn while
    running, ``running`` says whether the loop is on. ``max_steps``: the loop pauses by itself
    there (a forgotten tab does not train forever).
    """

    def __init__(self, pg: Playground, *, steps_per_frame: int = 10, max_fps: float = 20.0,
                 max_steps: int = 20_000):
        if not isinstance(pg, Playground):
            raise TypeError(f"pg must be a dlcore.playground.Playground; got {type(pg).__name__}")
        from .._checks import integer, number

        self.pg = pg
        self.steps_per_frame = integer("steps_per_frame", steps_per_frame, low=1)
        self.period = 1.0 / number("max_fps", max_fps, low=0.0, low_open=True)
        self.max_steps = integer("max_steps", max_steps, low=1)
        self.running, self.frames, self._task = False, 0, None
        self.diagnosis, self.state = None, "press start"
        self.view = Figure10()
        k = pg.knobs
        controls = dict(
            dataset=widgets.dropdown("data", list(DATASETS), k["dataset"]),
            noise=widgets.slider("noise", 0.0, 0.5, 0.01, k["noise"]),
            train_fraction=widgets.slider("train fraction", 0.1, 0.9, 0.1, k["train_fraction"]),
            depth=widgets.slider("hidden layers", 1, 8, 1, k["depth"]),
            width=widgets.slider("width", 1, 32, 1, k["width"]),
            activation=widgets.dropdown("activation", list(ACTIVATIONS), k["activation"]),
            init=widgets.dropdown("init", list(INITS), k["init"]),
            init_scale=widgets.slider("init scale", 0.01, 10.0, 0.1, k["init_scale"], log=True),
            batchnorm=widgets.dropdown("BatchNorm", ["off", "on"], "on" if k["batchnorm"] else "off"),
            dropout=widgets.slider("dropout p", 0.0, 0.8, 0.05, k["dropout"]),
            optimizer=widgets.dropdown("optimiser", list(OPTIMIZERS), k["optimizer"]),
            lr=widgets.slider("learning rate η", 1e-4, 100.0, 0.25, k["lr"], log=True),
            momentum=widgets.slider("momentum μ / β₁", 0.0, 0.99, 0.01, k["momentum"]),
            schedule=widgets.dropdown("schedule", list(SCHEDULES), k["schedule"]),
            l2=widgets.dropdown("L2 λ", list(L2_CHOICES), min(L2_CHOICES, key=lambda v: abs(v - k["l2"]))),
            batch_size=widgets.slider("batch size m", 1, 256, 1, min(k["batch_size"], 256)),
            start=widgets.button("start", icon="play"), pause=widgets.button("pause", icon="pause"),
            step=widgets.button("step", icon="step-forward"), reset=widgets.button("reset", icon="undo"),
            diagnose=widgets.button("diagnose", icon="stethoscope"),
        )
        self._clicks = {b: 0 for b in BUTTONS}
        self.panel = widgets.Panel(self.view.fig, self._update, animated=self.view.animated, **controls)

    # what the panel's controls do -------------------------------------------------------------
    def _update(self, **values) -> bool:
        knobs = {k: v for k, v in values.items() if k in DEFAULTS}
        knobs["batchnorm"] = knobs["batchnorm"] == "on"
        changed = {k: v for k, v in knobs.items() if self.pg.knobs[k] != v}
        before = self.pg.step
        if changed:
            self.pg.set(**changed)
            if any(k in STRUCTURAL for k in changed):           # a new network: the verdicts were
                self.diagnosis = None                           # about the old one (even at step 0)
                if before:
                    self.state = "new network: press start"
        clicked = [b for b in BUTTONS if values[b] != self._clicks[b]]
        self._clicks = {b: values[b] for b in BUTTONS}
        for b in clicked:
            getattr(self, b)(refresh=False)
        return self.view.draw(self.pg, state=self.state, diagnosis=self.diagnosis)

    def _redraw(self) -> None:
        self.panel.refresh(full=self.view.draw(self.pg, state=self.state, diagnosis=self.diagnosis))

    def start(self, refresh: bool = True) -> None:
        """Train in chunks on the running asyncio loop (the kernel's) until paused or diverged."""
        if self.running or self.pg.stopped:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None:
            self.state = "no event loop here: use step, or pg.run(n) in a cell"
        else:
            self.running, self.state = True, "running"
            self._task = loop.create_task(self._loop())
        if refresh:
            self._redraw()

    def pause(self, refresh: bool = True) -> None:
        """Stop the loop after the chunk it is training."""
        self.running = False
        self.state = f"paused at step {self.pg.step:,}"
        if refresh:
            self._redraw()

    def step(self, refresh: bool = True) -> None:
        """One frame's chunk of steps (while paused)."""
        self.pg.run(self.steps_per_frame)
        if not self.running:
            self.state = f"paused at step {self.pg.step:,}"
        if refresh:
            self._redraw()

    def reset(self, refresh: bool = True) -> None:
        """Back to the initial weights of the current knobs, step 0 (still running if it was)."""
        self.pg.reset()
        self.diagnosis = None
        if not self.running:
            self.state = "reset: press start"
        if refresh:
            self._redraw()

    def diagnose(self, refresh: bool = True) -> None:
        """Notebook 09's checks on the network as it is now, shown beside the figure."""
        self.diagnosis = (self.pg.step, self.pg.diagnose())
        if refresh:
            self._redraw()

    async def _loop(self) -> None:
        try:
            while self.running:
                t = time.perf_counter()
                self.pg.run(self.steps_per_frame)
                if self.pg.stopped or self.pg.step >= self.max_steps:
                    self.running = False
                    self.state = "" if self.pg.stopped else f"paused at step {self.pg.step:,} (the limit)"
                self._redraw()
                self.frames += 1
                await asyncio.sleep(max(0.0, self.period - (time.perf_counter() - t)))
        except Exception as err:           # shown in the figure: a task's traceback is invisible
            self.running = False
            self.state = f"stopped: {type(err).__name__}: {err}"[:120]
            self._redraw()

    def _ipython_display_(self):
        from IPython.display import display

        display(self.panel)

    def __repr__(self) -> str:
        return f"<live playground: {self.pg!r}, {'running' if self.running else 'paused'}, {self.frames} frames>"


def live(pg: Playground, **kwargs) -> Live:
    """The live panel for ``pg`` (see :class:`Live`); display it by ending a cell with it."""
    return Live(pg, **kwargs)


__all__ = ["live", "Live", "snapshot", "describe", "Figure10"]
