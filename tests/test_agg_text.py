"""dlcore._agg_text draws text from cached glyph bitmaps: its pixels must be matplotlib's own."""
import matplotlib
import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from dlcore import _agg_text


def _text_figure(seed: int, **text_kw) -> Figure:
    """Many texts at fractional positions: sizes, weights, mathtext (with its rules), rotated,
    coloured and translucent, antialiased or not."""
    rng = np.random.default_rng(seed)
    fig = Figure(figsize=(6, 4), dpi=97)       # an odd dpi: pen positions fall between pixels
    ax = fig.add_subplot()
    ax.set_title("variance ×1.3e+02 from layer 1 to 10; 42% dead", **text_kw)
    for i in range(24):
        x, y = rng.uniform(0.02, 0.8), rng.uniform(0.02, 0.95)
        s = ["0.123 η/λ", "μ = 0.9, β₂ = 0.999", r"$\frac{\eta}{2}\,\sqrt{\kappa}$", "WAVE Ty 1/64",
             r"$x^2 + \hat{y}_i$", "ÄÖÜ ß → ∞"][i % 6]
        ax.text(x, y, s, fontsize=rng.uniform(6, 19), rotation=[0, 0, 0, 90, 33][i % 5],
                color=["k", "#D55E00", (0.1, 0.4, 0.8, 0.6)][i % 3], weight=["normal", "bold"][i % 2],
                antialiased=i % 4 != 3, **text_kw)
    ax.set_xlabel("layer", **text_kw)
    ax.set_ylabel("share of values", **text_kw)
    return fig


def _pixels(canvas_class, seed: int, draws: int = 1, **text_kw) -> np.ndarray:
    fig = _text_figure(seed, **text_kw)
    canvas = canvas_class(fig)
    for _ in range(draws):
        canvas.draw()
    return np.asarray(canvas.buffer_rgba()).copy()


@pytest.mark.parametrize("hinting", ["default", "no_hinting", "force_autohint", "native", "auto"])
@pytest.mark.parametrize("seed", [0, 1])
def test_cached_glyphs_draw_matplotlibs_pixels(seed, hinting):
    with matplotlib.rc_context({"text.hinting": hinting}):
        expected = _pixels(FigureCanvasAgg, seed)
        # twice: the second draw takes every glyph from the cache
        np.testing.assert_array_equal(_pixels(_agg_text.CachedTextCanvas, seed, draws=2), expected)


def test_cache_is_used_and_bounded(monkeypatch):
    if not _agg_text.SUPPORTED:
        pytest.skip(f"matplotlib {matplotlib.__version__} draws text in C++: nothing to cache")
    _agg_text.clear()
    _pixels(_agg_text.CachedTextCanvas, 3)
    n, layouts = _agg_text.cache_size(), len(_agg_text._layouts)
    assert n > 100 and layouts > 10        # the figure's glyphs and strings went through the caches
    _pixels(_agg_text.CachedTextCanvas, 3)
    assert (_agg_text.cache_size(), len(_agg_text._layouts)) == (n, layouts)   # all hits
    monkeypatch.setattr(_agg_text, "MAX_GLYPHS", 50)
    monkeypatch.setattr(_agg_text, "MAX_LAYOUTS", 5)
    expected = _pixels(FigureCanvasAgg, 4)
    np.testing.assert_array_equal(_pixels(_agg_text.CachedTextCanvas, 4), expected)
    assert _agg_text.cache_size() <= 50 and len(_agg_text._layouts) <= 5


def test_font_features_and_language_are_part_of_the_layout():
    # the same string with and without ligatures / in another language: never one cached layout
    def figure(**kw):
        fig = Figure(figsize=(3, 1), dpi=100)
        fig.text(0.05, 0.5, "office fi ffl 0.25", fontsize=14, **kw)
        return fig
    for kw in [{}, {"fontfeatures": ("-liga",)}, {"fontfeatures": ["-kern", "-liga"]}, {"language": "tr"}, {}]:
        a, b = FigureCanvasAgg(figure(**kw)), _agg_text.CachedTextCanvas(figure(**kw))
        a.draw(), b.draw()
        np.testing.assert_array_equal(np.asarray(b.buffer_rgba()), np.asarray(a.buffer_rgba()))


def test_a_moved_text_matches_at_every_sub_pixel_offset():
    # the same string drawn at 1/8-pixel steps: cached bitmaps are reused at whole-pixel shifts
    def figure():
        fig = Figure(figsize=(3, 2), dpi=100)
        for k in range(24):
            fig.text(0.05 + k / 8 / 300, 0.04 * k, "Ag 0.25", fontsize=9)
        return fig
    a, b = FigureCanvasAgg(figure()), _agg_text.CachedTextCanvas(figure())
    a.draw(), b.draw(), b.draw()
    np.testing.assert_array_equal(np.asarray(b.buffer_rgba()), np.asarray(a.buffer_rgba()))
