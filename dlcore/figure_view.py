"""A figure in the browser that is sent only what changed: the front end of every slider Panel.

A Panel redraws its figure with Agg in the kernel (matplotlib's own pixels, so the figures look the
same everywhere), then sends the browser only the rectangles that changed, packed into one PNG in
a binary comm message. The browser decodes it off the main thread (``createImageBitmap``) and
draws each rectangle into a ``<canvas>`` at its place, in the next animation frame.

Why not an ``ipywidgets.Image`` (what Panel used before; benchmarks/drag.py, JupyterLab + headless
Chromium on 2 cores): each new value of an Image is a widget state change (the model's set_state, a
Blob URL fetched through the page's resource loader, an <img> swapped, decoded and laid out), and
ipywidgets sends a slider's next value only once the kernel has answered the last. A custom
message skips the state machinery, a canvas needs no layout when its pixels change, and with two
values in flight the kernel draws the next frame while the last one travels. Together with
etc/jupyter's setting (JupyterLab no longer redraws its toolbar for each widget message), Chromium's
CPU per frame fell from 83-126 ms to 38-73 ms and the median drag from 12 to 21 frames a second.
Sending only the changed bands (2-15% of the pixels) in one PNG then brought the kernel's
encode from ~5 to ~1 ms and the browser's decode from 8-15 to 4-6 ms: Chromium's CPU per frame fell
to 26-46 ms and the median drag rose to 25 frames a second (one PNG per band decoded slower than
the whole figure: Chromium pays per image).

Written with anywidget (its ``_esm`` is plain JavaScript, loaded by anywidget's prebuilt extension):
no build step, and the same widget runs in JupyterLab, Notebook 7, VS Code, Voila and Colab.
Without a front end (nbval, a script) the messages go nowhere and cost only the encode.
"""
from __future__ import annotations

import anywidget
import traitlets

_ESM = r"""
// How many value messages may wait in the kernel at once. One (ipywidgets' own rule) leaves the
// kernel idle while a frame travels back; two keep it drawing; more only add stale frames.
const IN_FLIGHT = 2;

async function render({ model, el }) {
  const canvas = document.createElement("canvas");
  canvas.className = "dlcore-figure";
  canvas.setAttribute("role", "img");
  canvas.style.maxWidth = "100%";
  canvas.style.height = "auto";      // keeps the figure's aspect ratio when the column is narrow
  canvas.style.display = "block";
  el.appendChild(canvas);
  const ctx = canvas.getContext("2d");
  let pending = [], scheduled = false, decoding = Promise.resolve();

  function resize(w, h) {
    if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
  }
  function paint() {
    scheduled = false;
    for (const f of pending.splice(0)) {     // in arrival order: later rectangles cover earlier ones
      resize(f.width, f.height);
      // each rectangle: w x h pixels at (sx, sy) of the frame's one image, to (x, y) of the figure,
      // replacing what was there (cleared first: a transparent pixel must not show the old one)
      for (const [x, y, sx, sy, w, h] of f.rects) {
        ctx.clearRect(x, y, w, h);
        ctx.drawImage(f.bitmap, sx, sy, w, h, x, y, w, h);
      }
      f.bitmap.close();
    }
    // what was drawn now is on screen when the next animation frame starts
    requestAnimationFrame(() => canvas.dispatchEvent(
      new CustomEvent("dlcore-painted", { detail: { time: performance.now() } })));
  }
  function show(frame, buffer) {
    // decode off the main thread (one PNG holds all the rectangles of a frame); draw frames in order
    const bitmap = createImageBitmap(new Blob([buffer], { type: "image/png" }));
    decoding = decoding.then(() => bitmap).then(b => {
      pending.push({ ...frame, bitmap: b });
      if (!scheduled) { scheduled = true; requestAnimationFrame(paint); }
    }, () => {});
  }

  // The sliders' values, sent to the kernel as they change: every change of a slider's model (a
  // drag moves it at the pointer's rate), at most IN_FLIGHT waiting, always the latest values.
  const sliders = [];
  for (const [name, ref] of model.get("relay")) {
    try { sliders.push([name, await model.widget_manager.get_model(ref.replace("IPY_MODEL_", ""))]); }
    catch (e) { /* a control this client cannot reach: it still syncs the ipywidgets way */ }
  }
  let inFlight = 0, dirty = false, seq = 0;
  function pump() {
    if (!dirty || inFlight >= IN_FLIGHT) return;
    dirty = false; inFlight += 1; seq += 1;
    const values = Object.fromEntries(sliders.map(([name, m]) => [name, m.get("value")]));
    model.send({ type: "values", seq, values });
  }
  const changed = () => { dirty = true; pump(); };
  sliders.forEach(([, m]) => m.on("change:value", changed));

  const onMessage = (msg, buffers) => {
    if (msg.type !== "frame") return;
    if (msg.ack) { inFlight = Math.max(0, inFlight - 1); pump(); }
    if (msg.rects.length && buffers.length) show(msg, buffers[0]);
  };
  model.on("msg:custom", onMessage);

  // Arrow keys on a slider's handle step the slider here, before the page sees them: Notebook 7
  // binds ArrowLeft/ArrowRight to "move to the heading above/below" and stops the key on its way
  // down, so the slider never got it (JupyterLab lets it through). Setting the model moves the
  // handle and its readout, and syncs the kernel, as a key press on the slider itself would.
  const keyed = [];
  for (const ref of model.get("sliders")) {
    try { keyed.push(await model.widget_manager.get_model(ref.replace("IPY_MODEL_", ""))); }
    catch (e) { keyed.push(null); }
  }
  const STEP = { ArrowRight: 1, ArrowUp: 1, ArrowLeft: -1, ArrowDown: -1 };
  const onKey = e => {
    const handle = e.target instanceof Element ? e.target.closest(".noUi-handle") : null;
    const box = el.closest(".widget-vbox");
    if (!handle || !box || !box.contains(handle) || !(e.key in STEP) || e.altKey || e.ctrlKey || e.metaKey) return;
    const m = keyed[[...box.querySelectorAll(".widget-slider")].findIndex(s => s.contains(handle))];
    if (!m) return;
    e.stopPropagation();
    e.preventDefault();
    const [lo, hi, step] = [m.get("min"), m.get("max"), m.get("step")];
    const clamp = v => Math.min(hi, Math.max(lo, v));
    let value;
    if (m.get("_model_name") === "FloatLogSliderModel") {
      const base = m.get("base");
      const exponent = clamp(Math.round((Math.log(m.get("value")) / Math.log(base) + STEP[e.key] * step) * 1e9) / 1e9);
      value = Math.pow(base, exponent);
    } else {
      value = clamp(lo + Math.round((m.get("value") + STEP[e.key] * step - lo) / step) * step);
      value = Number(value.toPrecision(12));      // no 0.30000000000000004 in the readout
    }
    if (value !== m.get("value")) { m.set("value", value); m.save_changes(); }
  };
  window.addEventListener("keydown", onKey, true);

  const first = model.get("png");
  if (first && first.byteLength) {
    const [w, h] = [model.get("width"), model.get("height")];
    show({ rects: [[0, 0, 0, 0, w, h]], width: w, height: h }, first);
  } else {
    resize(model.get("width"), model.get("height"));
  }
  const label = () => canvas.setAttribute("aria-label", model.get("alt"));
  label();
  model.on("change:alt", label);
  model.send({ type: "hello" });          // the kernel answers with the whole current figure
  return () => {
    window.removeEventListener("keydown", onKey, true);
    model.off("msg:custom", onMessage);
    sliders.forEach(([, m]) => m.off("change:value", changed));
  };
}
export default { render };
"""


class FigureView(anywidget.AnyWidget):
    """Shows a figure's pixels in a canvas; :meth:`send_frame` updates rectangles of it.

    ``png`` (synced once, when the view is first shown) is the whole figure for a view that opens
    before the kernel can answer; afterwards every view asks the kernel for the current figure
    (``on_hello()``) and receives only changed rectangles.

    ``relay``: (name, slider) pairs whose values the browser sends straight to ``on_values(seq,
    values)`` as the slider moves, several in flight, instead of waiting for ipywidgets' one
    message at a time. The answer to each is a frame with ``ack=True`` (empty if nothing changed).
    ``sliders``: every slider beside the figure, in the order shown; the view steps them itself on
    arrow keys (see the ESM: Notebook 7 would take the keys).
    """

    _esm = _ESM
    width = traitlets.Int(1).tag(sync=True)
    height = traitlets.Int(1).tag(sync=True)
    png = traitlets.Bytes(b"").tag(sync=True)
    alt = traitlets.Unicode("figure").tag(sync=True)
    relay = traitlets.List(traitlets.Tuple(traitlets.Unicode(), traitlets.Unicode())).tag(sync=True)
    sliders = traitlets.List(traitlets.Unicode()).tag(sync=True)

    def __init__(self, *, on_hello=None, on_values=None, relay=(), sliders=(), **kwargs):
        super().__init__(relay=[(name, f"IPY_MODEL_{w.model_id}") for name, w in relay],
                         sliders=[f"IPY_MODEL_{w.model_id}" for w in sliders], **kwargs)
        self._on_hello, self._on_values = on_hello, on_values
        self.on_msg(self._message)

    def _message(self, _widget, content, _buffers) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "hello" and self._on_hello:
            self._on_hello()
        elif kind == "values" and self._on_values and isinstance(content.get("values"), dict):
            self._on_values(content.get("seq"), content["values"])

    def send_frame(self, png: bytes | None, rects, width: int, height: int, *, ack: bool = False) -> None:
        """Draw pieces of ``png`` into the width x height figure, in one animation frame: each of
        ``rects`` is (x, y, sx, sy, w, h), the w x h pixels at (sx, sy) of the PNG drawn with their
        top-left corner at pixel (x, y) of the figure. ``png`` None (and no rects): only an ack."""
        self.send({"type": "frame", "rects": [[int(v) for v in r] for r in rects],
                   "width": int(width), "height": int(height), "ack": bool(ack)},
                  [png] if png is not None and rects else [])


__all__ = ["FigureView"]
