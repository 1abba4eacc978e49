"""Agg text drawn from a cache of glyph bitmaps: pixel for pixel what matplotlib draws, ~3x faster.

A slider Panel redraws its titles on every frame of a drag, 100-200 glyphs. matplotlib >= 3.11
draws each glyph in Python (``RendererAgg._draw_text_glyphs_and_boxes``): it sets the font's size
and a transform, has FreeType render the glyph (~18 us) and composites the bitmap (~10 us), ~45 us
a glyph with the loop's own work: 5-9 ms of a 02 or 03 panel's frame on a 2-core VM.

A glyph's bitmap depends only on the font, its size, the dpi, the glyph, the load flags, the
antialiasing and where the pen stands within a pixel (FreeType places glyphs in 1/64 pixel, and
applies the pen offset after hinting): moving the pen by whole pixels moves the bitmap by as many
pixels and leaves its values alone. So :class:`CachedTextCanvas` keeps each bitmap under those keys
and draws a known glyph with one dict lookup and the composite (~12 us). Only upright text (angle
0) takes this path; rotated text, and matplotlib versions without that Python loop (< 3.11 draw
text in C++), draw as before. tests/test_agg_text.py compares the pixels with matplotlib's own.

The layout of a string (which glyph goes where: FreeType loads every glyph for its metrics, ~18 us
a character, ~1.5 ms for an 80-character title) is kept too, by font, size, dpi and string: a
drag crosses most values twice (out and back), and the second time a title's layout is a lookup.
Both caches stand on private matplotlib code, so they are used only on the versions the pixel test
ran on (3.11.x); any other version draws with matplotlib's own renderer.
"""
from __future__ import annotations

import matplotlib
from matplotlib.backends import backend_agg
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg

try:
    from matplotlib.ft2font import FT2Font, RenderMode
except ImportError:   # matplotlib < 3.10
    FT2Font = RenderMode = None

# The private pieces the caches stand on, in the versions tested; elsewhere the stock renderer is used.
SUPPORTED = (tuple(int(p) for p in matplotlib.__version__.split(".")[:2]) == (3, 11)
             and RenderMode is not None and hasattr(RendererAgg, "_draw_text_glyphs_and_boxes")
             and all(hasattr(FT2Font, name) for name in ("_render_glyph", "_set_transform", "_layout"))
             and hasattr(backend_agg, "get_hinting_flag"))

MAX_GLYPHS = 50_000    # ~64 sub-pixel offsets x a few hundred glyphs x sizes: a few MB at most
_IDENTITY = ((0x10000, 0), (0, 0x10000))   # FreeType's 16.16 fixed-point identity matrix
_glyphs: dict = {}     # (font, size, dpi, glyph, x / 64 px, y / 64 px, flags, antialiased) -> bitmap, left, top
MAX_LAYOUTS = 5_000
_layouts: dict = {}    # (font, size, dpi, string, flags, features, language) -> the glyphs' (font, index, x, y)


class CachedTextRenderer(RendererAgg):
    """RendererAgg whose upright text comes from the glyph cache (see the module's docstring)."""

    def draw_text(self, gc, x, y, s, prop, angle, ismath=False, mtext=None):
        # matplotlib 3.11's draw_text, with the string's layout looked up first
        if ismath:
            return super().draw_text(gc, x, y, s, prop, angle, ismath, mtext)
        font = self._prepare_font(prop)         # the font at this size and dpi
        flags = backend_agg.get_hinting_flag()
        features = mtext.get_fontfeatures() if mtext is not None else None
        language = mtext.get_language() if mtext is not None else None
        size = prop.get_size_in_points()
        key = (font, size, self.dpi, s, flags, features, language)
        try:
            placed = _layouts.get(key)
        except TypeError:                       # features or language given as a list: not a key
            key, placed = None, None
        if placed is None:
            placed = [(item.ft_object, item.glyph_index, item.x, item.y)
                      for item in font._layout(s, flags=flags, features=features, language=language)]
            if key is not None:
                if len(_layouts) >= MAX_LAYOUTS:
                    _layouts.clear()
                _layouts[key] = placed
        self._draw_text_glyphs_and_boxes(
            gc, x, y, angle, [(f, size, index, 0, 1, dx, dy) for f, index, dx, dy in placed], [])

    def _draw_text_glyphs_and_boxes(self, gc, x, y, angle, glyphs, boxes):
        if angle != 0:
            return super()._draw_text_glyphs_and_boxes(gc, x, y, angle, glyphs, boxes)
        load_flags = backend_agg.get_hinting_flag()
        antialiased = bool(gc.get_antialiased())
        mode = RenderMode.NORMAL if antialiased else RenderMode.MONO
        height, dpi = self.height, self.dpi
        for font, size, glyph_index, slant, extend, dx, dy in glyphs:   # dx, dy: the pen, y upwards
            if slant != 0 or extend != 1:         # slanted or stretched (TeX font effects): as before
                super()._draw_text_glyphs_and_boxes(
                    gc, x, y, angle, [(font, size, glyph_index, slant, extend, dx, dy)], [])
                continue
            # the pen in FreeType's 26.6 fixed point, y upwards, as matplotlib computes it for angle 0
            pen_x, pen_y = round(0x40 * (x + dx)), round(0x40 * (height - y + dy))
            key = (font, size, dpi, glyph_index, pen_x & 0x3F, pen_y & 0x3F, load_flags, antialiased)
            hit = _glyphs.get(key)
            if hit is None:
                # rendered at the pen's fraction of a pixel; the whole pixels are added below
                font.set_size(size, dpi)
                font._set_transform(_IDENTITY, [pen_x & 0x3F, pen_y & 0x3F])
                bitmap = font._render_glyph(glyph_index, load_flags, mode)
                buffer = bitmap.buffer
                if not antialiased:
                    buffer *= 0xff
                if len(_glyphs) >= MAX_GLYPHS:
                    _glyphs.clear()
                hit = _glyphs[key] = (buffer, bitmap.left, bitmap.top)
            buffer, left, top = hit
            # draw_text_image's y runs downwards and names the bitmap's bottom row (as matplotlib's)
            self._renderer.draw_text_image(buffer, left + (pen_x >> 6),
                                           int(height) - (top + (pen_y >> 6)) + buffer.shape[0], 0, gc)
        if boxes:     # mathtext's rules (fraction bars, roots): matplotlib's own code draws them
            super()._draw_text_glyphs_and_boxes(gc, x, y, angle, (), boxes)


class CachedTextCanvas(FigureCanvasAgg):
    """FigureCanvasAgg whose renderer draws text from the glyph cache (where SUPPORTED)."""

    def get_renderer(self, *args, **kwargs):
        renderer = super().get_renderer(*args, **kwargs)
        if SUPPORTED and type(renderer) is RendererAgg:
            renderer.__class__ = CachedTextRenderer    # the same object: only the text drawing differs
        return renderer


def cache_size() -> int:
    """How many glyph bitmaps are cached (for tests)."""
    return len(_glyphs)


def clear() -> None:
    """Forget every cached glyph and layout."""
    _glyphs.clear()
    _layouts.clear()


__all__ = ["CachedTextCanvas", "CachedTextRenderer", "SUPPORTED", "cache_size", "clear"]
