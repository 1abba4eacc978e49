r"""2-D loss surfaces for watching optimisers move: pure, batched, with analytic derivatives.

Every surface is a :class:`Surface` made by a factory in :data:`SURFACES` (``get(name, **kw)``).
Its functions take points ``xy`` of shape (..., 2), a float32 or float64 torch tensor on any
device, any leading batch shape, and return

* ``f(xy)``: the loss, shape (...,);
* ``grad(xy)``: the gradient, shape (..., 2), written out by hand (no autograd: the trajectory
  engine evaluates it for thousands of runs per step, and autograd would cost several times more);
* ``value_and_grad(xy)``: both at once, sharing the common terms (what the engine calls);
* ``hessian(xy)``: shape (..., 2, 2), for every surface here.

tests/test_surfaces.py checks each gradient and Hessian against torch.autograd.

==========================  =============================================  =====================
surface                     f(x, y)                                        lesson
==========================  =============================================  =====================
ravine(condition, angle)    0.5 (u^2 + condition v^2), (u, v) = (x, y)     GD needs lr < 2/lmax;
                            turned by ``angle`` degrees                    zig-zag; momentum
rosenbrock(a, b)            (a - x)^2 + b (y - x^2)^2                      curved valley
beale()                     sum_i (c_i - x + x y^i)^2, c = 1.5, 2.25, ...  flat arms, steep walls
saddle()                    x^2 - y^2 + y^4 / 2                            slow escape; noise
plateau(width)              1 - exp(-(x^2 + y^2) / (2 width^2))            tiny gradients
pathological_curvature()    tanh(x)^2 + 0.01 |x| + sigmoid(y)              steep x, flat y (UvA)
steep_optima(narrow, wide)  minus three Gaussian bumps                     narrow deep minimum
==========================  =============================================  =====================
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Callable, Mapping, Optional

import numpy as np
import torch

from . import _checks

def _check_xy(xy):
    if not isinstance(xy, torch.Tensor):
        raise TypeError(f"xy must be a torch.Tensor of points, shape (..., 2); "
                        f"got {type(xy).__name__}")
    if xy.dim() == 0 or xy.shape[-1] != 2:
        raise ValueError(f"xy must have shape (..., 2), points in the plane; "
                         f"got shape {tuple(xy.shape)}")
    if xy.dtype not in (torch.float32, torch.float64):
        raise TypeError(f"xy must be float32 or float64; got dtype {xy.dtype}")
    return xy


def _checked(fn):
    """``fn`` behind the xy check: a python-only test, about a microsecond per call."""
    @functools.wraps(fn)
    def checked(xy):
        return fn(_check_xy(xy))
    return checked


@dataclass(frozen=True, eq=False)  # compared and hashed by identity (it holds functions)
class Surface:
    """A loss surface over the plane and what a figure or a test needs to know about it.

    ``minimum`` is a global minimiser (x, y) (None where the infimum is not attained) and
    ``min_value`` the loss there; ``window`` ((xmin, xmax), (ymin, ymax)) is the region to plot,
    and the trajectory engine calls a run diverged once it leaves this window enlarged by a
    margin. ``params`` holds the factory's arguments and derived numbers (e.g. ``lambda_max``).
    """

    name: str
    f: Callable = field(repr=False)
    grad: Callable = field(repr=False)
    start: tuple
    minimum: Optional[tuple]
    window: tuple
    hessian: Optional[Callable] = field(default=None, repr=False)
    description: str = ""
    min_value: Optional[float] = None
    value_and_grad: Optional[Callable] = field(default=None, repr=False)
    params: Mapping = field(default_factory=dict)


def _const(values):
    """like -> a constant tensor of like's dtype and device, made once per pair (no copy a call)."""
    @functools.lru_cache(maxsize=None)
    def make(dtype, device):
        return torch.tensor(values, dtype=dtype, device=device)
    return lambda like: make(like.dtype, like.device)


def _pair(gx, gy):
    """(..., 2) from two (...,) tensors, stored as [all x; all y] (x's contiguous, then y's):
    the layout the trajectory engine keeps its runs in, and 4x cheaper to make than
    ``torch.stack(..., -1)``. Use ``.contiguous()`` if C order is needed."""
    return torch.stack([gx, gy]).movedim(0, -1)


def _hess(hxx, hxy, hyy):
    """Symmetric (..., 2, 2) matrices from three (...,) entries."""
    return torch.stack([hxx, hxy, hxy, hyy], -1).unflatten(-1, (2, 2))


def _make(name, f, vg, hessian, *, start, minimum, window, description, min_value=None, **params):
    f = f or (lambda xy: vg(xy)[0])  # where the gradient costs next to nothing more
    return Surface(name=name, f=_checked(f), grad=_checked(lambda xy: vg(xy)[1]),
                   value_and_grad=_checked(vg), hessian=_checked(hessian),
                   start=tuple(float(v) for v in start),
                   minimum=None if minimum is None else tuple(float(v) for v in minimum),
                   min_value=min_value, window=window, description=description, params=params)


# ----------------------------------------------------------------------------------- surfaces

def ravine(condition: float = 50.0, angle: float = 0.0) -> Surface:
    """f = 0.5 xy^T A xy with A's eigenvalues 1 and ``condition`` (lambda_max = max(1, condition)).

    ``angle`` (degrees) turns the eigenvectors: 0 (the default) keeps them on the axes (x the flat
    direction, y the steep one); 45 puts the ravine on the diagonal, where AdaGrad's, RMSprop's
    and Adam's per-coordinate scaling no longer lines up with it. GD converges iff
    lr < 2 / lambda_max (``params['lr_max_gd']``).
    """
    kappa = _checks.number("condition", condition, low=0.0, low_open=True)
    angle = _checks.number("angle", angle)
    c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    a11, a12, a22 = c * c + kappa * s * s, (1.0 - kappa) * c * s, s * s + kappa * c * c
    A = _const([[a11, a12], [a12, a22]])

    def vg(xy):  # elementwise rather than xy @ A: keeps xy's memory layout, and as fast
        x, y = xy[..., 0], xy[..., 1]
        gx, gy = (a11 * x, a22 * y) if a12 == 0 else (a11 * x + a12 * y, a12 * x + a22 * y)
        return 0.5 * torch.addcmul(x * gx, y, gy), _pair(gx, gy)

    def hessian(xy):
        return A(xy).expand(*xy.shape[:-1], 2, 2)

    lam = (min(1.0, kappa), max(1.0, kappa))
    start = (-4.0 * c - 1.0 * s, -4.0 * s + 1.0 * c)  # (-4, 1) turned with the ravine
    return _make("ravine", None, vg, hessian, start=start, minimum=(0.0, 0.0), min_value=0.0,
                 window=((-5.0, 5.0), (-5.0, 5.0)), condition=kappa, angle=angle,
                 lambda_min=lam[0], lambda_max=lam[1], lr_max_gd=2.0 / lam[1],
                 description=f"ill-conditioned quadratic, eigenvalues 1 and {kappa:g}, "
                             f"turned {angle:g} degrees; GD diverges for lr > {2 / lam[1]:.4g}")


def rosenbrock(a: float = 1.0, b: float = 100.0) -> Surface:
    """f = (a - x)^2 + b (y - x^2)^2: a curved, flat-bottomed valley; minimum 0 at (a, a^2)."""
    a = _checks.number("a", a)
    b = _checks.number("b", b, low=0.0, low_open=True)

    def f(xy):
        x, y = xy[..., 0], xy[..., 1]
        return (a - x) ** 2 + b * (y - x * x) ** 2

    def vg(xy):
        x, y = xy[..., 0], xy[..., 1]
        r, u = y - x * x, a - x
        value = torch.addcmul(u * u, r, r, value=b)
        return value, _pair(torch.addcmul(-2.0 * u, x, r, value=-4.0 * b), (2.0 * b) * r)

    def hessian(xy):
        x, y = xy[..., 0], xy[..., 1]
        return _hess(2.0 - 4.0 * b * y + 12.0 * b * x * x, -4.0 * b * x,
                     torch.full_like(x, 2.0 * b))

    window = ((min(-2.0, a - 1.0), max(2.0, a + 1.0)),
              (min(-1.0, a * a - 1.0), max(3.0, a * a + 1.0)))  # (-2, 2) x (-1, 3) for a = 1
    return _make("rosenbrock", f, vg, hessian, start=(-1.2, 1.0), minimum=(a, a * a), min_value=0.0,
                 window=window, a=a, b=b,
                 description=f"Rosenbrock's banana valley, minimum 0 at ({a:g}, {a * a:g})")


_BEALE_C = (1.5, 2.25, 2.625)


def beale() -> Surface:
    """f = sum_{i=1..3} (c_i - x + x y^i)^2, c = (1.5, 2.25, 2.625): minimum 0 at (3, 0.5)."""

    def terms(xy):
        x, y = xy[..., 0], xy[..., 1]
        ys = (y, y * y, y * y * y)
        return x, y, ys, [c - x + x * yi for c, yi in zip(_BEALE_C, ys)]

    def f(xy):
        return sum(t * t for t in terms(xy)[3])

    def vg(xy):
        x, y, ys, t = terms(xy)
        gx = 2.0 * (t[0] * (ys[0] - 1) + t[1] * (ys[1] - 1) + t[2] * (ys[2] - 1))
        gy = 2.0 * x * (t[0] + 2.0 * t[1] * y + 3.0 * t[2] * ys[1])
        return t[0] * t[0] + t[1] * t[1] + t[2] * t[2], _pair(gx, gy)

    def hessian(xy):
        x, y, ys, t = terms(xy)
        dx = (ys[0] - 1, ys[1] - 1, ys[2] - 1)                 # d t_i / dx
        dy = (x, 2.0 * x * y, 3.0 * x * ys[1])                  # d t_i / dy
        dxy = (torch.ones_like(y), 2.0 * y, 3.0 * ys[1])        # d2 t_i / dx dy (d2/dx2 = 0)
        dyy = (torch.zeros_like(y), 2.0 * x, 6.0 * x * y)       # d2 t_i / dy2
        hxx = sum(2.0 * a * a for a in dx)
        hxy = sum(2.0 * (a * b + ti * c) for a, b, c, ti in zip(dx, dy, dxy, t))
        hyy = sum(2.0 * (b * b + ti * d) for b, d, ti in zip(dy, dyy, t))
        return _hess(hxx, hxy, hyy)

    return _make("beale", f, vg, hessian, start=(1.0, 1.5), minimum=(3.0, 0.5), min_value=0.0,
                 window=((-4.5, 4.5), (-4.5, 4.5)),
                 description="Beale's function: flat arms and steep walls, minimum 0 at (3, 0.5)")


def saddle() -> Surface:
    """f = x^2 - y^2 + y^4 / 2: exactly x^2 - y^2 near the saddle point (0, 0), then a double well.

    The Hessian at the saddle is diag(2, -2); the minima are (0, +1) and (0, -1), loss -0.5
    (``minimum`` names (0, 1)). A run started on the x-axis (y = 0) converges to the saddle and
    stays there; a tiny y, or gradient noise, lets it escape, at a rate growing like (1 + 2 lr)^t.
    """

    def vg(xy):
        x, y = xy[..., 0], xy[..., 1]
        y2 = y * y
        return x * x - y2 + 0.5 * y2 * y2, _pair(2.0 * x, 2.0 * y * (y2 - 1.0))

    def hessian(xy):
        y = xy[..., 1]
        return _hess(torch.full_like(y, 2.0), torch.zeros_like(y), 6.0 * y * y - 2.0)

    return _make("saddle", None, vg, hessian, start=(1.5, 1e-3), minimum=(0.0, 1.0), min_value=-0.5,
                 window=((-2.0, 2.0), (-2.0, 2.0)), saddle_point=(0.0, 0.0),
                 minima=((0.0, 1.0), (0.0, -1.0)),
                 description="saddle x^2 - y^2 at (0, 0), minima -0.5 at (0, +-1)")


def plateau(width: float = 1.0) -> Surface:
    """f = 1 - exp(-r^2 / (2 width^2)): a basin of radius ~width in a plateau at loss 1.

    The gradient's size r/width^2 exp(-r^2 / (2 width^2)) is 1.3e-3/width at the start, r = 4 width,
    and falls off like a Gaussian beyond: SGD crawls there, Adam (which divides by the gradient's
    size) walks at about lr per step.
    """
    w = _checks.number("width", width, low=0.0, low_open=True)
    k = 1.0 / (w * w)

    def gauss(xy):
        x, y = xy[..., 0], xy[..., 1]
        return torch.exp((-0.5 * k) * torch.addcmul(x * x, y, y))

    def f(xy):
        return 1.0 - gauss(xy)

    def vg(xy):
        e = gauss(xy)
        return 1.0 - e, (k * e)[..., None] * xy

    def hessian(xy):
        e = gauss(xy)[..., None, None]
        eye = torch.eye(2, dtype=xy.dtype, device=xy.device)
        return e * (k * eye - (k * k) * xy[..., :, None] * xy[..., None, :])

    return _make("plateau", f, vg, hessian, start=(-3.2 * w, 2.4 * w), minimum=(0.0, 0.0),
                 min_value=0.0, window=((-5.0 * w, 5.0 * w), (-5.0 * w, 5.0 * w)), width=w,
                 description=f"a Gaussian basin of width {w:g} in a flat plateau at loss 1")


def pathological_curvature() -> Surface:
    """f = tanh(x)^2 + 0.01 |x| + sigmoid(y): the UvA deep-learning course's tutorial 4 surface.

    Steep and curved across x (a ravine at x = 0, whose walls flatten out beyond |x| ~ 2), nearly
    flat along y, where the loss keeps falling towards its infimum 0 as y -> -inf (no minimum,
    so ``minimum`` is None). The tutorial's window and start: x in (-5, 5), y in (-15, 5), from
    (-5, 5). At x = 0 the |x| term has no derivative; ``grad`` uses sign(0) = 0, as autograd does.
    """

    def vg(xy):
        x, y = xy[..., 0], xy[..., 1]
        t, s = torch.tanh(x), torch.sigmoid(y)
        gx = torch.add(2.0 * t * (1.0 - t * t), torch.sign(x), alpha=0.01)
        return t * t + 0.01 * x.abs() + s, _pair(gx, s * (1.0 - s))

    def hessian(xy):
        t, s = torch.tanh(xy[..., 0]), torch.sigmoid(xy[..., 1])
        t2 = t * t
        return _hess(2.0 * (1.0 - t2) * (1.0 - 3.0 * t2), torch.zeros_like(t),
                     s * (1.0 - s) * (1.0 - 2.0 * s))

    return _make("pathological_curvature", None, vg, hessian, start=(-5.0, 5.0), minimum=None,
                 window=((-5.0, 5.0), (-15.0, 5.0)), infimum=0.0,
                 description="tanh(x)^2 + 0.01|x| + sigmoid(y): steep across x, "
                             "falling slowly along y")


_STEEP_CENTRES = ((-0.5, -0.8), (1.0, -0.5), (-1.0, 0.5))  # the UvA tutorial's three centres


def steep_optima(narrow: float = 0.2, wide: float = 0.5) -> Surface:
    """f = -sum_k N(xy; mu_k, sigma_k^2 I): one narrow deep well and two wide shallow ones.

    N is the normalised 2-D Gaussian (peak 1 / (2 pi sigma^2)), so the narrow well at (-0.5, -0.8)
    (sigma = ``narrow``) is both the deepest and the steepest; the wide ones (sigma = ``wide``) sit
    at (1, -0.5) and (-1, 0.5). The UvA tutorial's surface is ``steep_optima(0.2, 0.2)``. The
    global minimum is found by Newton's method from each centre (the other wells' tails move the
    minima slightly off the centres), in float64.
    """
    narrow = _checks.number("narrow", narrow, low=0.0, low_open=True)
    wide = _checks.number("wide", wide, low=0.0, low_open=True)
    if narrow > wide:
        raise ValueError(f"narrow must be <= wide (the narrow well is the deep one); "
                         f"got narrow={narrow}, wide={wide}")
    sig = (narrow, wide, wide)
    mux, muy = _const([m[0] for m in _STEEP_CENTRES]), _const([m[1] for m in _STEEP_CENTRES])
    k = _const([1.0 / (s * s) for s in sig])                         # 1 / sigma^2
    amp = _const([1.0 / (2.0 * math.pi * s * s) for s in sig])        # peak depths

    def parts(xy):  # per coordinate, (..., 3) each: keeps xy's memory layout
        dx, dy = xy[..., 0, None] - mux(xy), xy[..., 1, None] - muy(xy)
        kk = k(xy)
        e = amp(xy) * torch.exp(-0.5 * kk * torch.addcmul(dx * dx, dy, dy))  # wells' depths here
        return dx, dy, kk, e

    def vg(xy):
        dx, dy, kk, e = parts(xy)
        w = e * kk
        return -e.sum(-1), _pair((w * dx).sum(-1), (w * dy).sum(-1))

    def hessian(xy):
        dx, dy, kk, e = parts(xy)
        w, w2 = e * kk, e * kk * kk
        return _hess((w - w2 * dx * dx).sum(-1), (-w2 * dx * dy).sum(-1),
                     (w - w2 * dy * dy).sum(-1))

    found = []
    for centre in _STEEP_CENTRES:  # Newton from each well's centre; keep the minima it finds
        m = torch.tensor(centre, dtype=torch.float64)
        for _ in range(50):
            m = m - torch.linalg.lstsq(hessian(m), vg(m)[1]).solution
        if vg(m)[1].abs().max() < 1e-12 and torch.linalg.eigvalsh(hessian(m)).min() > 0:
            found.append((vg(m)[0].item(), tuple(m.tolist())))
    if not found:
        raise ValueError(f"steep_optima: no minimum found for narrow={narrow}, wide={wide}")
    return _make("steep_optima", None, vg, hessian, start=(0.0, 0.0), minimum=min(found)[1],
                 min_value=min(found)[0], window=((-2.0, 2.0), (-2.0, 2.0)),
                 narrow=narrow, wide=wide,
                 description=f"a narrow deep Gaussian well (sigma {narrow:g}) and two wide shallow "
                             f"ones (sigma {wide:g})")


SURFACES = {f.__name__: f for f in (ravine, rosenbrock, beale, saddle, plateau,
                                     pathological_curvature, steep_optima)}


def get(name: str, **kwargs) -> Surface:
    """The surface ``name`` (a key of :data:`SURFACES`) made with the factory's ``kwargs``."""
    return SURFACES[_checks.choice("name", name, SURFACES)](**kwargs)


def grid(surface: Surface, n=200, window=None):
    """X, Y, Z numpy arrays of shape (ny, nx) for ``plt.contour(X, Y, Z)``, one vectorised call.

    ``n`` is the number of points per side (an int >= 2, or a pair (nx, ny)); ``window`` defaults
    to the surface's. Computed in float64 on the CPU (one (ny * nx, 2) batch).
    """
    if not isinstance(surface, Surface):
        raise TypeError(f"surface must be a Surface (see dlcore.surfaces.get); "
                        f"got {type(surface).__name__}")
    nx, ny = (n, n) if not isinstance(n, (tuple, list)) else n
    nx, ny = _checks.integer("n", nx, low=2), _checks.integer("n", ny, low=2)
    (x0, x1), (y0, y1) = surface.window if window is None else _check_window(window)
    X, Y = np.meshgrid(np.linspace(x0, x1, nx), np.linspace(y0, y1, ny))
    Z = surface.f(torch.from_numpy(np.stack([X, Y], -1))).numpy()
    return X, Y, Z


def _check_window(window):
    try:
        (x0, x1), (y0, y1) = window
    except (TypeError, ValueError):
        raise ValueError(f"window must be ((xmin, xmax), (ymin, ymax)); got {window!r}") from None
    vals = [_checks.number("window", v) for v in (x0, x1, y0, y1)]
    if not (vals[0] < vals[1] and vals[2] < vals[3]):
        raise ValueError(f"window must have xmin < xmax and ymin < ymax; got {window!r}")
    return (vals[0], vals[1]), (vals[2], vals[3])
