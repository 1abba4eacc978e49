"""Slider panels that redraw an existing figure in place, fast enough to feel instant.

    fig, ax = plot.figure()
    (line,) = ax.plot(x, f(x, 1.0))
    def update(scale):                     # called with every control's current value
        line.set_ydata(f(x, scale))
    Panel(fig, update, scale=slider("scale", 0.1, 2.0, 0.1, 1.0), animated=[line])

How it stays fast (measured on a 2-core VM; see benchmarks/run.py and benchmarks/drag.py): the
figure is rendered by Agg in the kernel and shown in the browser by :class:`dlcore.figure_view.FigureView`
(a canvas, sent only the pixels that changed). A full draw of a 9x3.5 in 2-panel figure costs
~50 ms, encoding it as PNG ~5 ms (:func:`encode_png`; savefig's PNG ~40 ms). With ``animated``
artists the static part of the figure (axes, ticks, labels) is drawn once and cached; an update
then restores that background and redraws only those artists (~1 ms). ``update`` returns True when
it changed something static (axis limits, tick labels), which asks for one full redraw. In a figure
made of subfigures (:func:`dlcore.plot.figure_rows`), only the rows whose artists ``update`` touched
are redrawn. Text (titles that change with every value) comes from cached glyph bitmaps and string
layouts (:mod:`dlcore._agg_text`: matplotlib's own pixels, a title ~2x faster). Then only what differs
from the picture the browser has is sent: bands of 32 rows,
the changed columns of each (:func:`changed_rects`, typically 2-15% of a figure), packed into one
PNG per frame (:func:`pack_rects`). Continuous sliders' values come from the browser as the slider
moves, two messages in flight (see figure_view), so the kernel draws the next frame while the last
one travels. A panel given ``prefetch`` (its cached computation) computes the settings one slider move
away while the kernel is idle (:mod:`dlcore.idle`), so a drag or a key press mostly costs the redraw.

The same code runs headless under nbval (the messages go nowhere), in JupyterLab, Notebook 7,
VS Code, Voila and Colab, with no front-end build: anywidget's prebuilt extension loads the view.
"""
from __future__ import annotations

import base64
import collections
import itertools
import math
import numbers
import struct
import time
import weakref
import zlib

import ipywidgets as W
import numpy as np
import traitlets
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from . import _checks, idle
from ._agg_text import CachedTextCanvas
from .figure_view import FigureView

_PANELS: "weakref.WeakSet[Panel]" = weakref.WeakSet()
_SERIAL = itertools.count(1)
_FRAMES: "collections.deque[dict]" = collections.deque(maxlen=10_000)


def slider(description: str, low: float, high: float, step: float | None = None,
           value: float | None = None, *, log: bool = False, continuous_update: bool = True,
           readout_format: str | None = None):
    """A slider from ``low`` to ``high``: an IntSlider when all numbers are ints, else a FloatSlider;
    ``log=True`` gives a FloatLogSlider over [low, high] (both > 0) with ``step`` in decades.

    Use ``continuous_update=False`` for a slider whose update retrains something: it then fires
    once on release instead of on every pixel of a drag.
    """
    # an IntSlider only when the caller wrote ints: slider("p", 0.0, 1.0) must stay continuous
    ints = not log and all(isinstance(v, numbers.Integral) and not isinstance(v, bool)
                           for v in (low, high, value, step) if v is not None)
    low, high = _checks.number("low", low), _checks.number("high", high)
    if not low < high:
        raise ValueError(f"slider {description!r} needs low < high; got low={low}, high={high}")
    style = {"description_width": "initial"}
    common = dict(description=description, continuous_update=continuous_update, style=style,
                  layout=W.Layout(width="340px"))
    if log:
        if low <= 0:
            raise ValueError(f"log slider {description!r} needs low > 0; got {low}")
        value = math.sqrt(low * high) if value is None else _checks.number("value", value, low=low, high=high)
        return W.FloatLogSlider(value=value, base=10, min=math.log10(low), max=math.log10(high),
                                step=step or 0.1, readout_format=readout_format or ".2g", **common)
    value = low if value is None else _checks.number("value", value, low=low, high=high)
    if ints:
        return W.IntSlider(value=int(value), min=int(low), max=int(high), step=int(step or 1), **common)
    return W.FloatSlider(value=value, min=low, max=high, step=step or (high - low) / 100,
                         readout_format=readout_format or ".3g", **common)


def dropdown(description: str, options, value=None):
    """A drop-down list of named choices (activation, init scheme, optimiser ...)."""
    options = list(options)
    if not options:
        raise ValueError(f"dropdown {description!r} needs at least one option")
    value = options[0] if value is None else value
    if value not in options:
        raise ValueError(f"dropdown {description!r}: value {value!r} is not one of {options}")
    return W.Dropdown(options=options, value=value, description=description,
                      style={"description_width": "initial"})


class Clicks(W.Button, W.ValueWidget):
    """A button whose ``value`` counts its clicks: a Panel control for "draw again" actions.

    ipywidgets' Button has no value, so a Panel could not observe it; here each click adds 1 to
    ``value`` (kept in the kernel, not sent to the browser: the front end is a plain Button), and
    ``update`` receives the count, e.g. to seed a fresh random draw. ``panel.set(name=n)`` sets it.
    """

    value = traitlets.Int(0, help="how many times the button was clicked")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.on_click(self._count)

    def _count(self, _button) -> None:
        self.value += 1


def button(description: str, *, icon: str = "refresh", value: int = 0) -> Clicks:
    """A button for a Panel: ``update`` gets the number of clicks so far (starting at ``value``)."""
    if not isinstance(description, str) or not description:
        raise ValueError(f"button needs a non-empty description; got {description!r}")
    value = _checks.integer("value", value, low=0)
    return Clicks(description=description, icon=icon, value=value,
                  layout=W.Layout(width="auto"))


def _png_chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def png_bytes(fig: Figure) -> bytes:
    """The figure's current Agg buffer as a PNG (drawn first if it never was)."""
    if not isinstance(fig, Figure):
        raise TypeError(f"fig must be a matplotlib Figure; got {type(fig).__name__}")
    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    if getattr(fig.canvas, "renderer", None) is None:      # never drawn: nothing to encode yet
        fig.canvas.draw()
    return encode_png(np.asarray(fig.canvas.buffer_rgba()))


def encode_png(rgba: np.ndarray) -> bytes:
    """An (h, w, 4) uint8 RGBA array (a figure's buffer, or a rectangle of it) as a PNG.

    Written by hand rather than through PIL or savefig: no per-row filter search and zlib level
    1 encode a 1300x750 figure in ~13 ms instead of ~32 ms (PIL, level 1) or ~90 ms (savefig),
    and plots (large flat areas) still compress ~20x.
    """
    h, w = rgba.shape[:2]
    rows = np.empty((h, 1 + 4 * w), dtype=np.uint8)
    rows[:, 0] = 0                                          # filter type 0 (None) for every row
    rows[:, 1:] = rgba.reshape(h, -1)
    header = struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0)  # 8-bit RGBA, no interlace
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
            + _png_chunk(b"IDAT", zlib.compress(rows.tobytes(), 1)) + _png_chunk(b"IEND", b""))


class Panel:
    """Controls above a figure; moving a control calls ``update(**values)`` and redraws in place.

    fig: a matplotlib Figure (make it with :func:`dlcore.plot.figure`, or any figure: a pyplot
    one is closed so the inline backend does not show a second, static copy).
    update: called with every control's value by keyword. It changes artists (``set_data``,
    ``set_text``); it returns True when it also changed a static part (limits, ticks, labels).
    controls: name -> ipywidgets control, by keyword.
    animated: the artists ``update`` changes; they are redrawn over a cached background, in the
    order given (so list an image before the points and lines that sit on it: a static artist
    would be covered by an animated one). Leave it empty to redraw the whole figure every time.
    background_key: for a control that switches between a few static pictures (a drop-down of
    surfaces whose image and ticks differ): a callable naming the picture on show. The first
    full redraw of each picture is cached under its name; coming back to it restores that cache
    and redraws only the animated artists (~1 ms instead of a full draw). The name must cover
    everything static: two states with one name must differ only in their animated artists.

    prefetch: for an ``update`` that computes something slow (trajectories, a forward pass) through
    a cache: a function taking the controls' values as ``update`` does, that computes and caches
    what ``update`` will need for them and draws nothing (e.g. the notebook's ``lru_cache``d run).
    Once a browser shows the panel, the settings one slider move away (every position of each
    continuous slider, nearest first, at most PREFETCH_PER_SLIDER of them; the other controls as
    they are) are computed in the kernel's idle moments (:mod:`dlcore.idle`): a drag or a key
    press then costs only the redraw. Make the cache hold them (up to PREFETCH_PER_SLIDER per
    slider, summed over the sliders its arguments depend on).

    The layout (``layout="constrained"``) is solved once, at the first draw, then frozen: a title
    that later grows a second line is cut off, so give a title its final number of lines from the
    start.
    """

    def __init__(self, fig: Figure, update, *, animated=(), background_key=None, prefetch=None, **controls):
        if not isinstance(fig, Figure):
            raise TypeError(f"fig must be a matplotlib Figure; got {type(fig).__name__}")
        if not callable(update):
            raise TypeError(f"update must be callable; got {type(update).__name__}")
        if not controls:
            raise ValueError("Panel needs at least one control, e.g. scale=slider('scale', 0, 1)")
        for name, c in controls.items():
            if not isinstance(c, W.ValueWidget):
                raise TypeError(f"control {name!r} must be an ipywidgets control; got {type(c).__name__}")
        if fig.canvas.manager is not None:  # a pyplot figure: stop the backend showing it too
            import matplotlib.pyplot as plt

            plt.close(fig)
        CachedTextCanvas(fig)  # render off-screen, whatever backend the notebook uses (text from cached glyphs)
        self.fig, self.update, self.controls = fig, update, dict(controls)
        self.animated = list(animated)
        if background_key is not None and not callable(background_key):
            raise TypeError(f"background_key must be callable; got {type(background_key).__name__}")
        if background_key is not None and not self.animated:
            raise ValueError("background_key caches backgrounds for the animated artists; pass animated=[...]")
        self.background_key, self._backgrounds = background_key, {}
        if prefetch is not None and not callable(prefetch):
            raise TypeError(f"prefetch must be callable; got {type(prefetch).__name__}")
        self.prefetch = prefetch
        self._prefetch_base = None   # the values the running jobs are one move from (set in quiet time)
        self._prefetch_state = "off"   # "off" (no browser yet), "queued" (jobs not started), "running"
        self._background = None
        self._holding = False
        self._sent = 0   # bytes sent for the last frame
        self._shown = None  # (h, w, 4) copy of the pixels the browser shows (see _send)
        self._prefix = None  # (k, snapshot of the background + animated[:k]) (see refresh)
        # continuous sliders: the browser sends their values straight to _on_front_values as they
        # move (see dlcore.figure_view); once it has, their ipywidgets syncs draw nothing
        self._relayed = {name: c for name, c in self.controls.items()
                         if isinstance(c, _SLIDERS) and c.continuous_update}
        self._relay_active = False
        self.view = FigureView(on_hello=self._send_whole, on_values=self._on_front_values,
                               relay=list(self._relayed.items()),
                               sliders=[c for c in self.controls.values() if isinstance(c, _SLIDERS)])
        self.status = W.HTML()
        for c in self.controls.values():
            c.observe(self._on_change, names="value")
        box = W.HBox(list(self.controls.values()), layout=W.Layout(flex_flow="row wrap"))
        self.widget = W.VBox([box, self.status, self.view])
        self._drawn, self._acked = None, True
        self.serial = next(_SERIAL)
        _PANELS.add(self)
        self.refresh(full=self.update(**self.values) or True)
        self._drawn = self.values

    @property
    def values(self) -> dict:
        return {name: c.value for name, c in self.controls.items()}

    def _repr_mimebundle_(self, include=None, exclude=None):
        """The widget view for a live kernel, plus the current figure as ``image/png``.

        JupyterLab, Notebook 7, VS Code and Colab render the widget; a static copy of the
        notebook (nbconvert HTML, GitHub, nbviewer, a course web page) has no widget state and
        falls back to the image, so the figure is there too. ``text/plain`` names the panel.
        """
        png = self.png()
        self.view.png = png     # what a view shows before it can ask the kernel
        data = dict(self.widget._repr_mimebundle_(include=include, exclude=exclude) or {})
        data["image/png"] = base64.b64encode(png).decode("ascii")
        data["text/plain"] = repr(self)
        return data

    def __repr__(self) -> str:
        controls = ", ".join(f"{name}={_format_value(v)}" for name, v in self.values.items())
        return f"<Panel {self.serial}: {controls}>"

    def _on_change(self, change):
        if self._holding:
            return
        if self._relay_active and any(change["owner"] is c for c in self._relayed.values()):
            return   # the browser already sent this value (or a newer one) through the relay
        self._draw(self.values)

    def _on_front_values(self, seq, values: dict) -> None:
        """Slider values from the browser's relay: draw them, and always answer (the ack lets
        the browser send the next values)."""
        self._relay_active = True
        merged = self.values
        # the relayed sliders' mirrors in the kernel may lag (their ipywidgets syncs are stale
        # during a drag): start from what was last drawn for them
        merged.update({n: v for n, v in (self._drawn or {}).items() if n in self._relayed})
        for name, v in values.items():
            c = self._relayed.get(name)
            if c is not None and isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
                v = _on_grid(c, v)
                # back at the position the prefetch started from (a drag comes home): that very value,
                # not the grid's (an initial 0.02 on a grid of 10^-1.7), or every job would miss
                anchor = (self._prefetch_base or {}).get(name)
                if anchor is not None and slider_index(c, anchor) == slider_index(c, v):
                    v = anchor
                merged[name] = v
        idle.touch()
        if merged == self._drawn:
            self._send([], ack=True)
        else:
            self._draw(merged, ack=True)

    def _draw(self, values: dict, ack: bool = False) -> None:
        start, self._sent, self._acked = time.perf_counter(), 0, not ack
        try:
            self.refresh(full=bool(self.update(**values)), ack=ack)
            self.status.value = ""
        except Exception as err:  # show it beside the sliders: a callback's traceback is invisible
            self.status.value = f"<span style='color:#D55E00'><b>{type(err).__name__}:</b> {err}</span>"
        finally:
            self._drawn = dict(values)
            if not self._acked:
                self._send([], ack=True)
            idle.touch()
            self._plan_prefetch()
        _FRAMES.append({"panel": self.serial, "ms": (time.perf_counter() - start) * 1e3,
                        "bytes": self._sent})

    def set(self, **values) -> None:
        """Set controls from code (one update for all of them); errors raise here."""
        unknown = set(values) - set(self.controls)
        if unknown:
            raise ValueError(f"unknown control(s) {sorted(unknown)}; this panel has {sorted(self.controls)}")
        self._holding = True
        try:
            for name, v in values.items():
                self.controls[name].value = v
        finally:
            self._holding = False
        self.refresh(full=bool(self.update(**self.values)))
        self._drawn = self.values
        self._plan_prefetch()

    def _plan_prefetch(self) -> None:
        """Queue the settings one slider move away from what is drawn (see ``prefetch``), once a
        browser shows the panel; again whenever the drawn values change."""
        if self.prefetch is None or self._prefetch_state != "running" or self._drawn == self._prefetch_base:
            return      # no browser, jobs already waiting (they read the values when they start), or up to date
        self._prefetch_state = "queued"
        idle.submit(self.serial, self._prefetch_jobs())

    def _prefetch_jobs(self):
        """The jobs of ``prefetch``, planned around the drawn values when the first one starts: in
        quiet time, so during a drag the base stays where the drag began (see _on_front_values)."""
        base = self._prefetch_base = dict(self._drawn)
        self._prefetch_state = "running"
        yield from _prefetch_jobs(self.prefetch, base, self._relayed)

    def refresh(self, full: bool = False, *, ack: bool = False) -> None:
        """Render the figure into the image.

        full: draw everything and cache the static background. Otherwise restore the background
        only where an animated artist changed (its subfigure, or the whole figure) and redraw the
        animated artists there: a row of a :func:`dlcore.plot.figure_rows` figure whose artists
        ``update`` left alone costs nothing. In a whole-figure redraw, the animated artists listed
        before the first one that changed are not redrawn either: a snapshot of the background with
        them drawn is kept and restored (so list what changes least first, e.g. an image that only
        one slider moves, and have ``update`` leave it alone when its data did not change).
        """
        canvas = self.fig.canvas
        whole = (0, 0) + canvas.get_width_height()    # x, y (top-left), width, height in pixels
        rects = [whole]
        key = self.background_key() if self.background_key is not None else None
        cached = full and key is not None and key in self._backgrounds
        prefix, self._prefix = self._prefix, None      # kept below only while it stays right
        if cached:
            # a static picture drawn before: restore all of it, then every animated artist
            self._background = self._backgrounds[key]
            canvas.restore_region(self._background)
            redraw = self.animated
        elif full or self._background is None or not self.animated:
            for a in self.animated:
                a.set_animated(True)
            canvas.draw()  # skips animated artists
            if self.fig.get_layout_engine() is not None:
                # the layout is settled; solving it again on every draw costs ~20-50 ms
                self.fig.set_layout_engine("none")
            self._background = canvas.copy_from_bbox(self.fig.bbox) if self.animated else None
            if key is not None:
                self._backgrounds[key] = self._background
            redraw = self.animated
        else:
            changed = {id(r): r for r in (_region(a) for a in self.animated if a.stale)}
            if not changed:
                self._prefix = prefix
                return  # update changed nothing: the image is already right
            if any(r is self.fig for r in changed.values()) or \
                    len(changed) == len({id(_region(a)) for a in self.animated}):   # every region changed
                # The artists listed before the first one that changed look as they did: start from
                # the snapshot of background + those (an image under moving curves is not redrawn),
                # taken the first time they were drawn.
                first = next(i for i, a in enumerate(self.animated) if a.stale)
                if prefix is not None and 0 < prefix[0] <= first:
                    canvas.restore_region(prefix[1])
                    self._prefix, redraw = prefix, self.animated[prefix[0]:]
                else:
                    canvas.restore_region(self._background)
                    redraw = self.animated
                    if first > 0:
                        self._draw_artists(self.animated[:first])
                        self._prefix, redraw = (first, canvas.copy_from_bbox(self.fig.bbox)), self.animated[first:]
            else:
                height = self.fig.bbox.height
                rects = []
                for r in changed.values():
                    x1, y1, x2, y2 = r.bbox.extents   # display coordinates, y up
                    # the buffer's rows run top-down: flip y, round outwards to whole pixels
                    box = (max(0, math.floor(x1)), max(0, math.floor(height - y2)),
                           min(whole[2], math.ceil(x2)), min(whole[3], math.ceil(height - y1)))
                    canvas.restore_region(self._background, xy=(0, 0), bbox=box)
                    rects.append((box[0], box[1], box[2] - box[0], box[3] - box[1]))
                redraw = [a for a in self.animated if id(_region(a)) in changed]
        self._draw_artists(redraw)
        self._send(rects, ack=ack)

    def _draw_artists(self, artists) -> None:
        renderer = self.fig.canvas.get_renderer()
        for a in artists:
            if a.get_visible():
                a.draw(renderer)
            a.stale = False

    def png(self) -> bytes:
        """The whole figure as it is now, as a PNG."""
        return png_bytes(self.fig)

    def _send(self, rects, *, ack: bool = False) -> None:
        """Send the browser the pixels that changed inside ``rects`` (x, y, width, height: the
        regions just redrawn), in one message (``ack``: the answer to a relayed value).

        The kernel keeps a copy of what the browser shows (``_shown``) and sends only the bands
        of :func:`changed_rects` that differ from it: a moved curve or a new title is a few
        percent of a figure, so the PNG to encode here and to decode there is that much smaller.
        The bands travel packed into one image (:func:`pack_rects`): the browser decodes one PNG
        per frame, which costs far less than one per band.
        """
        buffer = np.asarray(self.fig.canvas.buffer_rgba())
        height, width = buffer.shape[:2]
        if (self.view.width, self.view.height) != (width, height):
            self.view.width, self.view.height = width, height
        if self._shown is None or self._shown.shape != buffer.shape:
            # what the browser shows is unknown (a new view, a first frame): send all of it
            self._shown = np.empty_like(buffer)
            boxes = [(0, 0, width, height)]
        else:
            boxes = [r for box in rects if box[2] > 0 and box[3] > 0 for r in changed_rects(buffer, self._shown, box)]
        if boxes:
            atlas, places = pack_rects(buffer, boxes)
            for x, y, w, h in boxes:
                self._shown[y:y + h, x:x + w] = buffer[y:y + h, x:x + w]
            png = encode_png(atlas)
            self.view.send_frame(png, [(x, y, sx, sy, w, h) for (x, y, w, h), (sx, sy) in zip(boxes, places)],
                                 width, height, ack=ack)
            self._sent = len(png)
        else:
            if ack:
                self.view.send_frame(None, [], width, height, ack=True)
            self._sent = 0
        self._acked = self._acked or ack

    def _send_whole(self) -> None:
        """A new view (or one that lost track): the whole figure, whatever it showed before.
        A browser shows the panel now: its prefetch may start (see ``prefetch``)."""
        self._shown = None
        self._send([(0, 0) + self.fig.canvas.get_width_height()])
        if self.prefetch is not None and self._prefetch_state == "off":
            self._prefetch_state = "running"     # as if a plan had run: queue the first one
            self._plan_prefetch()

    def benchmark(self, n_values: int = 9) -> list[dict]:
        """Time update + render for ``n_values`` settings of each control; restore the settings.

        Returns one row per control: panel figure id, control, median and p95 milliseconds.
        """
        original = self.values
        rows = []
        for name, c in self.controls.items():
            times = []
            for v in _sweep(c, n_values):
                t = time.perf_counter()
                self.set(**{name: v})
                times.append((time.perf_counter() - t) * 1e3)
            self.set(**original)
            rows.append({"control": c.description or name, "median_ms": float(np.median(times)),
                         "p95_ms": float(np.percentile(times, 95)), "n": len(times)})
        return rows


BAND = 32   # rows per band of changed_rects: small enough to skip what a curve left alone
GAP = 64    # columns: two changed spans of a band closer than this are sent as one


def changed_rects(new: np.ndarray, old: np.ndarray, box=None) -> list[tuple[int, int, int, int]]:
    """Rectangles (x, y, width, height) that cover every pixel where ``new`` differs from ``old``.

    new, old: (h, w, 4) uint8 RGBA buffers of one figure; box: the (x, y, width, height) region
    to compare (default: all of it). The region is cut into bands of BAND rows; in each band
    the changed columns are grouped into spans (gaps under GAP are bridged), and a span that
    continues one of the band above with the same columns extends it. A curve that moved covers
    a few percent of a figure, so this sends ~10x fewer pixels than the region (measured on
    notebooks 02, 03 and 05: 2-20% of 32-pixel tiles change between slider steps).
    """
    if new.shape != old.shape or new.ndim != 3 or new.shape[2] != 4 or new.dtype != np.uint8:
        raise ValueError(f"new and old must be (h, w, 4) uint8 arrays of one shape; got {new.shape} "
                         f"{new.dtype} and {old.shape} {old.dtype}")
    height, width = new.shape[:2]
    x0, y0, w, h = (0, 0, width, height) if box is None else (int(v) for v in box)
    x1, y1 = min(width, x0 + w), min(height, y0 + h)
    x0, y0 = max(0, x0), max(0, y0)
    if x1 <= x0 or y1 <= y0:
        return []
    # one 32-bit word per pixel: one comparison instead of four
    diff = new[y0:y1, x0:x1].view(np.uint32)[..., 0] != old[y0:y1, x0:x1].view(np.uint32)[..., 0]
    starts = np.arange(0, y1 - y0, BAND)
    bands = np.logical_or.reduceat(diff, starts, axis=0)      # (n_bands, columns): changed anywhere in the band
    rects, above = [], {}
    for b in np.flatnonzero(bands.any(axis=1)):
        cols = np.flatnonzero(bands[b])
        breaks = np.flatnonzero(np.diff(cols) > GAP)
        top, bottom = y0 + int(starts[b]), y0 + min(int(starts[b]) + BAND, y1 - y0)
        spans = {}
        for first, last in zip(np.r_[0, breaks + 1], np.r_[breaks, len(cols) - 1]):
            left, right = x0 + int(cols[first]), x0 + int(cols[last]) + 1
            k = above.get((left, right))
            if k is not None and rects[k][1] + rects[k][3] == top:      # same columns, just below: grow it
                rects[k] = (left, rects[k][1], right - left, bottom - rects[k][1])
            else:
                k = len(rects)
                rects.append((left, top, right - left, bottom - top))
            spans[(left, right)] = k
        above = spans
    return rects


def pack_rects(buffer: np.ndarray, rects) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Copy the rectangles (x, y, width, height) of ``buffer`` into one image ("atlas"); return
    it and where each one sits in it, (x, y) of its top-left corner.

    Shelves: the tallest rectangles first, left to right, a new shelf when the row is full; the
    atlas is as wide as the widest rectangle or the square root of their total area, whichever is
    larger, so it stays near square and is little more than their area. Unused pixels are
    transparent (they compress to almost nothing). One rectangle is sent as it is.
    """
    rects = [tuple(int(v) for v in r) for r in rects]
    if len(rects) == 1:
        x, y, w, h = rects[0]
        return buffer[y:y + h, x:x + w], [(0, 0)]
    width = max(max(w for _, _, w, _ in rects), math.ceil(math.sqrt(sum(w * h for _, _, w, h in rects))))
    places, shelf_x, shelf_y, shelf_h = [None] * len(rects), 0, 0, 0
    for i in sorted(range(len(rects)), key=lambda i: -rects[i][3]):
        w, h = rects[i][2:]
        if shelf_x + w > width:                      # the row is full: start a shelf below it
            shelf_x, shelf_y, shelf_h = 0, shelf_y + shelf_h, 0
        places[i] = (shelf_x, shelf_y)
        shelf_x, shelf_h = shelf_x + w, max(shelf_h, h)
    atlas = np.zeros((shelf_y + shelf_h, width, buffer.shape[2]), dtype=buffer.dtype)
    for (x, y, w, h), (sx, sy) in zip(rects, places):
        atlas[sy:sy + h, sx:sx + w] = buffer[y:y + h, x:x + w]
    return atlas, places


_SLIDERS = (W.FloatSlider, W.IntSlider, W.FloatLogSlider)
# positions of one slider prefetched around its value (see Panel's prefetch): a drag crosses the
# whole track, so all of a track of 500 (notebook 03's β2) and half of one of 1024
PREFETCH_PER_SLIDER = 512


def _positions(control) -> int:
    """How many steps the slider's track has (its positions are 0 .. that)."""
    return max(0, int(round((control.max - control.min) / control.step)))


def slider_index(control, value) -> int:
    """The position (0 = min) of a slider's grid nearest ``value`` (a FloatLogSlider's grid is in
    exponents)."""
    if not isinstance(control, _SLIDERS):
        raise TypeError(f"control must be an IntSlider, FloatSlider or FloatLogSlider; got {type(control).__name__}")
    if isinstance(control, W.FloatLogSlider):
        value = math.log(max(float(value), 1e-300), control.base)
    i = round((float(value) - control.min) / control.step)
    return min(_positions(control), max(0, i))


def slider_value(control, index: int):
    """The value at position ``index`` of a slider's grid, the same float wherever it is asked
    for (12 significant digits: 0.3, not 0.30000000000000004)."""
    index = _checks.integer("index", index, low=0, high=_positions(control))
    if isinstance(control, W.IntSlider):
        return min(control.max, control.min + index * control.step)
    exponent = min(control.max, control.min + index * control.step)
    value = control.base ** exponent if isinstance(control, W.FloatLogSlider) else exponent
    return float(f"{value:.12g}")


def _on_grid(control, value):
    """A value from the browser as the slider's grid value (:func:`slider_value`) when it is one
    up to rounding, so that a drag and the prefetch ask for the same float; else as it came."""
    if isinstance(control, W.IntSlider):
        return int(value)
    grid = slider_value(control, slider_index(control, value))
    return grid if math.isclose(grid, value, rel_tol=1e-9, abs_tol=1e-12) else float(value)


def _prefetch_jobs(prefetch, base: dict, sliders: dict):
    """One job per setting one slider move from ``base``: nearest first, each slider in turn, so
    the next move of any of them is ready soonest (lazily: only the jobs that run are made)."""
    near = [[(name, slider_value(c, i)) for i in _nearest(c, base[name])] for name, c in sliders.items()]
    for tier in itertools.zip_longest(*near):
        for name, value in filter(None, tier):
            yield lambda name=name, value=value: prefetch(**{**base, name: value})


def _nearest(control, value) -> list[int]:
    """The slider's other positions, nearest ``value`` first (at most PREFETCH_PER_SLIDER)."""
    here, top = slider_index(control, value), _positions(control)
    out = []
    for d in range(1, top + 1):
        out += [i for i in (here - d, here + d) if 0 <= i <= top]
        if len(out) >= PREFETCH_PER_SLIDER or (here - d < 0 and here + d > top):
            break
    return out[:PREFETCH_PER_SLIDER]


def _format_value(v) -> str:
    return f"{v:.3g}" if isinstance(v, float) else repr(v)


def _region(artist):
    """The (sub)figure an artist is drawn in: the unit of partial redraws."""
    try:
        return artist.get_figure(root=False)   # matplotlib >= 3.10
    except TypeError:
        return artist.figure                   # older: .figure is the direct parent (sub)figure


def _sweep(control, n: int) -> list:
    """``n`` values spread over a control's range (every option of a drop-down), none repeated
    back to back, so each one really changes something."""
    if isinstance(control, Clicks):  # n clicks
        return [control.value + i for i in range(1, n + 1)]
    if isinstance(control, (W.Dropdown, W.RadioButtons, W.ToggleButtons, W.Select)):
        opts = [o[1] if isinstance(o, tuple) else o for o in control.options]
        return (opts * (n // len(opts) + 2))[1: n + 1]
    if isinstance(control, W.Checkbox):
        return [bool(i % 2 == 0) != control.value for i in range(n)]
    if isinstance(control, W.FloatLogSlider):
        vals = list(control.base ** np.linspace(control.min, control.max, n))
    else:
        vals = list(np.linspace(control.min, control.max, n))
        if isinstance(control, W.IntSlider):
            vals = [int(round(v)) for v in vals]
        else:
            vals = [float(v) for v in vals]
    vals = [v for i, v in enumerate(vals) if i == 0 or v != vals[i - 1]]
    return vals[1:] + vals[:1] if vals and vals[0] == control.value else vals


def frame_log(clear: bool = False) -> list[dict]:
    """The last frames drawn because a control moved (panel, ms of update + render, bytes sent);
    for benchmarks/drag.py, which reads it from the kernel after a drag."""
    frames = list(_FRAMES)
    if clear:
        _FRAMES.clear()
    return frames


def benchmark_all(n_values: int = 9) -> list[dict]:
    """:meth:`Panel.benchmark` for every live panel, in creation order (for benchmarks/run.py)."""
    rows = []
    for panel in sorted(_PANELS, key=lambda p: p.serial):
        for row in panel.benchmark(n_values):
            rows.append({"panel": panel.serial, **row})
    return rows


__all__ = ["Panel", "slider", "dropdown", "button", "Clicks", "png_bytes", "encode_png", "changed_rects", "pack_rects",
           "benchmark_all", "frame_log", "slider_index", "slider_value", "PREFETCH_PER_SLIDER"]
