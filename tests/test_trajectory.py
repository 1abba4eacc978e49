"""dlcore.trajectory: the batched engine against plain optimiser loops, divergence, noise, schedules."""
import functools
import math

import numpy as np
import pytest
import torch

from dlcore import optim, surfaces, trajectory as T

STEPS = 150
# rule, hyper-parameters, dlcore.optim class, torch.optim class and its keywords
RULES = [
    ("sgd", {"lr": 2e-3}, optim.SGD, torch.optim.SGD, {}),
    ("momentum", {"lr": 1e-3, "momentum": 0.9}, optim.Momentum, torch.optim.SGD, {}),
    ("nesterov", {"lr": 1e-3, "momentum": 0.8, "weight_decay": 0.01}, optim.Nesterov,
     torch.optim.SGD, {"nesterov": True}),
    ("adagrad", {"lr": 0.3, "lr_decay": 0.01, "initial_accumulator_value": 0.1}, optim.AdaGrad,
     torch.optim.Adagrad, {}),
    ("rmsprop", {"lr": 0.01, "alpha": 0.9}, optim.RMSprop, torch.optim.RMSprop, {}),
    ("adam", {"lr": 0.05, "betas": (0.8, 0.99)}, optim.Adam, torch.optim.Adam, {}),
    ("adamw", {"lr": 0.05, "weight_decay": 0.1}, optim.AdamW, torch.optim.AdamW, {}),
]
SURFACES = [("rosenbrock", {}, (-1.2, 1.0)), ("pathological_curvature", {}, (-2.0, 4.0)),
            ("ravine", {"condition": 20.0, "angle": 30.0}, (-4.0, 1.5))]


def loop(surface, cls, hyper, start, steps, schedule=None):
    """What a student writes: one parameter, autograd through surface.f, one optimiser step at a time."""
    p = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    opt = cls([p], **hyper)
    sched = None if schedule is None else torch.optim.lr_scheduler.LambdaLR(opt, schedule)
    path, losses = [p.detach().clone()], []
    for _ in range(steps):
        opt.zero_grad()
        loss = surface.f(p)
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()
        losses.append(loss.item())
        path.append(p.detach().clone())
    return torch.stack(path).numpy(), np.array(losses)


@pytest.mark.parametrize("surf, skw, start", SURFACES, ids=[s[0] for s in SURFACES])
@pytest.mark.parametrize("name, hyper, ours, theirs, tkw", RULES, ids=[r[0] for r in RULES])
def test_one_run_equals_a_loop_over_dlcore_and_torch_optimisers(surf, skw, start, name, hyper,
                                                                 ours, theirs, tkw):
    s = surfaces.get(surf, **skw)
    res = T.run(s, [(name, hyper)], start, STEPS)
    want, want_loss = loop(s, ours, hyper, start, STEPS)
    assert np.abs(want[-1] - want[0]).max() > 1e-2  # it moved: not a comparison of two starts
    np.testing.assert_allclose(res.paths[:, 0], want, rtol=0, atol=1e-10)
    np.testing.assert_allclose(res.losses[:-1, 0], want_loss, rtol=1e-10, atol=1e-12)
    want_torch, _ = loop(s, theirs, {**hyper, **tkw}, start, STEPS)
    np.testing.assert_allclose(res.paths[:, 0], want_torch, rtol=0, atol=1e-10)
    assert res.diverged_at[0] == -1 and res.labels[0].startswith(name + "(")


def test_adam_without_bias_correction_and_a_schedule_equal_the_loop():
    s = surfaces.rosenbrock()
    hyper = {"lr": 0.05, "bias_correction": False}
    res = T.run(s, [("adam", hyper)], (-1.2, 1.0), STEPS)
    np.testing.assert_allclose(res.paths[:, 0], loop(s, optim.Adam, hyper, (-1.2, 1.0), STEPS)[0], atol=1e-10)
    for name, hyper, ours, _, _ in RULES:
        sched = optim.as_lambda("inverse", decay=0.05)
        res = T.run(s, [(name, hyper)], (-1.2, 1.0), STEPS, schedule=sched)
        want, _ = loop(s, ours, hyper, (-1.2, 1.0), STEPS, schedule=sched)
        np.testing.assert_allclose(res.paths[:, 0], want, rtol=0, atol=1e-10, err_msg=name)


def test_schedule_multiplies_the_learning_rate():
    s = surfaces.ravine(condition=4.0)
    start = (-3.0, 2.0)
    # plain GD on a quadratic: one step of lr * 0.5 equals one step with a schedule of 0.5
    half = T.run(s, [("sgd", {"lr": 0.1})], start, 1, schedule=lambda t: 0.5)
    plain = T.run(s, [("sgd", {"lr": 0.05})], start, 1)
    np.testing.assert_allclose(half.paths, plain.paths, rtol=1e-15)
    frozen = T.run(s, [("adam", {"lr": 0.1})], start, 20, schedule=lambda t: 0.0 if t >= 10 else 1.0)
    assert (frozen.paths[10:, 0] == frozen.paths[10, 0]).all()
    assert (frozen.paths[9, 0] != frozen.paths[10, 0]).any()


SWEEP = [  # same rule twice but not adjacent, per-setting hypers, two bias_corrections
    ("sgd", {"lr": 1e-3}), ("adam", {"lr": 0.05}), ("sgd", {"lr": 2e-3}),
    ("adam", {"lr": 0.02, "betas": (0.5, 0.9)}), ("adam", {"lr": 0.05, "bias_correction": False}),
    ("adagrad", {"lr": 0.3, "initial_accumulator_value": 0.5}), ("adagrad", {"lr": 0.3}),
    ("momentum", {"lr": 1e-3, "momentum": 0.5, "weight_decay": 0.1}), ("nesterov", {"lr": 1e-3}),
    ("rmsprop", {"lr": 0.01}), ("rmsprop", {"lr": 0.01, "alpha": 0.5, "eps": 1e-3}),
]


@pytest.mark.parametrize("dtype, surf", [(torch.float64, surfaces.rosenbrock()),
                                         (torch.float32, surfaces.ravine(5.0, angle=30.0))])
def test_a_batch_equals_the_runs_one_at_a_time(dtype, surf):
    s = surf
    starts = np.array([[-1.2, 1.0], [0.5, 2.5], [1.5, -0.5]])
    sched = optim.as_lambda("exponential", decay=0.01)  # scales (B, 1) and float lrs alike
    res = T.run(s, SWEEP, starts, 80, dtype=dtype, noise=0.0, schedule=sched)
    assert res.paths.shape == (81, len(SWEEP) * 3, 2) and res.losses.shape == (81, len(SWEEP) * 3)
    assert res.paths.dtype == (np.float64 if dtype == torch.float64 else np.float32)
    # not bit for bit: a batch may turn a float lr into a (B, 1) tensor, which rounds differently
    # from torch's fused kernels; runs that diverge grow it (float32 on Rosenbrock: to 1e-3)
    tol = 1e-10 if dtype == torch.float64 else 1e-5
    for r in range(len(res)):
        k, j = res.setting[r], res.start[r]
        assert r == k * 3 + j and res.labels[r] == res.settings[k].label
        one = T.run(s, [SWEEP[k]], starts[j], 80, dtype=dtype, schedule=sched)
        np.testing.assert_allclose(res.paths[:, r], one.paths[:, 0], rtol=tol, atol=tol)
        np.testing.assert_allclose(res.losses[:, r], one.losses[:, 0], rtol=tol, atol=tol)
    assert list(res.runs(2)) == [6, 7, 8] and list(res.runs("sgd(lr=0.002)")) == [6, 7, 8]


@pytest.mark.parametrize("condition, angle", [(50.0, 0.0), (10.0, 0.0), (20.0, 35.0)])
def test_gd_on_the_ravine_diverges_just_above_2_over_lambda_max(condition, angle):
    s = surfaces.ravine(condition=condition, angle=angle)
    crit = 2.0 / s.params["lambda_max"]
    res = T.run(s, [("sgd", {"lr": 1.02 * crit}), ("sgd", {"lr": 0.98 * crit})], steps=2000)
    assert res.diverged_at[0] >= 0 and res.diverged_at[1] == -1
    assert res.losses[-1, 1] < 1e-12 < res.losses[res.diverged_at[0], 0]
    d = res.diverged_at[0]
    # the window (-5, 5)^2 grown by 10x its size on each side: |x|, |y| <= 105
    assert (np.abs(res.paths[d, 0]) > 105).any() and (np.abs(res.paths[d - 1, 0]) <= 105).all()


def test_diverged_runs_are_frozen_and_cut_without_nan():
    s = surfaces.rosenbrock()
    sets = [("sgd", {"lr": 0.01}), ("sgd", {"lr": 1e-4}), ("momentum", {"lr": 0.05})]
    for margin in (10.0, math.inf):  # left the box / became inf or NaN
        res = T.run(s, sets, [(-1.2, 1.0), (2.0, -1.0)], 300, margin=margin)
        assert res.diverged.sum() >= 2 and not res.diverged[2:4].any()
        for i in range(len(res)):
            p, loss, d = res.path(i), res.loss(i), res.diverged_at[i]
            assert res.end(i) == res.ends()[i] == len(p) - 1
            assert np.isfinite(p).all() and np.isfinite(loss).all() and len(p) == len(loss)
            if d < 0:
                assert len(p) == 301
                continue
            assert len(p) in (d, d + 1)  # up to the divergence step; it too if finite
            finite = np.isfinite(res.paths[d, i])
            assert (res.paths[d:, i, finite] == res.paths[d, i, finite]).all()  # frozen
            if margin == math.inf:
                assert not (np.isfinite(res.paths[d, i]).all() and np.isfinite(res.losses[d, i]))
                assert len(p) == d
    # the check every 16 steps gives the same as a check every step would: first bad step
    res = T.run(s, [("sgd", {"lr": 0.01})], (2.0, -1.0), 300)
    x = res.paths[:, 0]
    box = np.array([[-2 - 40, 2 + 40], [-1 - 40, 3 + 40]])
    out = ((x < box[:, 0]) | (x > box[:, 1])).any(1) | ~np.isfinite(res.losses[:, 0])
    assert res.diverged_at[0] == np.argmax(out)


def test_noise_is_reproducible_and_zero_noise_is_deterministic():
    s = surfaces.saddle()
    sets = [("sgd", {"lr": 0.05}), ("adam", {"lr": 0.05})]
    a = T.run(s, sets, (1.5, 0.0), 200, noise=0.1, seed=3)
    b = T.run(s, sets, (1.5, 0.0), 200, noise=0.1, seed=3)
    c = T.run(s, sets, (1.5, 0.0), 200, noise=0.1, seed=4)
    assert np.array_equal(a.paths, b.paths) and not np.array_equal(a.paths, c.paths)
    calm = T.run(s, sets, (1.5, 0.0), 200)
    assert np.array_equal(calm.paths, T.run(s, sets, (1.5, 0.0), 200, noise=0.0, seed=9).paths)
    # on the x-axis without noise GD goes to the saddle and stays; noise lets it escape to a minimum
    assert np.abs(calm.paths[-1, 0]).max() < 1e-6 and calm.paths[-1, 0, 1] == 0.0
    assert abs(abs(a.paths[-1, 0, 1]) - 1) < 0.3
    # the noise is N(0, noise^2) per component: one step of SGD from the minimum of a quadratic
    q = surfaces.ravine(condition=1.0)
    n = T.run(q, [("sgd", {"lr": 1.0})], np.zeros((20000, 2)), 1, noise=0.3)
    step = n.paths[1]  # = -lr * noise * z
    assert step.mean() == pytest.approx(0.0, abs=0.01) and step.std() == pytest.approx(0.3, rel=0.02)


def test_steps_to():
    s = surfaces.ravine(condition=10.0)
    lrs = [0.05, 0.15, 0.3]  # 0.3 > 2 / 10: diverges
    res = T.run(s, [("sgd", {"lr": lr}) for lr in lrs], (-4.0, 1.0), 400)
    t = np.arange(401)
    for r, lr in enumerate(lrs[:2]):  # loss_t = 0.5 ((1 - lr)^2t 16 + 10 (1 - 10 lr)^2t)
        loss = 0.5 * ((1 - lr) ** (2 * t) * 16 + 10 * (1 - 10 * lr) ** (2 * t))
        assert res.steps_to(1e-3)[r] == np.argmax(loss <= 1e-3)
        np.testing.assert_allclose(res.losses[:, r], loss, rtol=1e-9, atol=1e-300)
    assert res.steps_to(1e-3)[2] == -1 and res.steps_to(-1.0).tolist() == [-1, -1, -1]
    assert res.steps_to(1e9).tolist() == [0, 0, 0]


def test_defaults_zero_steps_and_result_fields():
    s = surfaces.beale()
    res = T.run(s, "adam", steps=0)
    assert res.paths.shape == (1, 1, 2) and tuple(res.paths[0, 0]) == s.start and res.steps == 0
    assert res.losses[0, 0] == pytest.approx(s.f(torch.tensor(s.start)).item())
    res = T.run(s, ("adam", {"lr": 0.1}, "Adam 0.1"), steps=5)
    assert res.labels == ["Adam 0.1"] and len(res) == 1 and res.diverged_at.dtype == np.int64
    assert res.starts.shape == (1, 2)


BAD = [
    (dict(optimisers=[("lamb", {})]), ValueError, r"unknown optimiser name 'lamb'; valid choices are \['adagrad'"),
    (dict(optimisers=[]), ValueError, "optimisers must be a non-empty list"),
    (dict(optimisers=[("sgd", 0.1)]), ValueError, r"\(name, dict\)"),
    (dict(optimisers=[("sgd", {"momentum": 0.9})]), TypeError, "sgd takes no hyper-parameter 'momentum'"),
    (dict(optimisers=[("sgd", {"lr": -0.1})]), ValueError, r"lr=-0\.1"),
    (dict(optimisers=[("adam", {"betas": (0.9, 1.0)})]), ValueError, r"betas\[1\]"),
    (dict(optimisers=[("sgd", {"lr": torch.ones(1, 1)})]), TypeError, "one setting per value"),
    (dict(starts=[1.0, 2.0, 3.0]), ValueError, r"starts must have shape \(2,\) or \(R0, 2\).*\(3,\)"),
    (dict(starts=np.zeros((0, 2))), ValueError, "R0 >= 1"),
    (dict(starts=[[0.0, math.nan]]), ValueError, "starts must be finite"),
    (dict(starts="origin"), ValueError, "starts must be a point"),
    (dict(steps=-1), ValueError, "steps must be >= 0"),
    (dict(steps=2.5), TypeError, "steps must be an integer"),
    (dict(noise=-0.1), ValueError, "noise must be >= 0"),
    (dict(seed=-1), ValueError, "seed must be >= 0"),
    (dict(margin=0), ValueError, "margin must be a number > 0"),
    (dict(dtype=torch.float16), ValueError, "dtype must be torch.float32 or torch.float64"),
    (dict(device="gpu7"), ValueError, "device must be"),
    (dict(schedule=0.5), TypeError, "schedule must be None or a function"),
    (dict(schedule=lambda t: 1.0 - 0.1 * t), ValueError, r"factor >= 0; got -0\.1.* at t=11"),
    (dict(surface="ravine"), TypeError, "surface must be a dlcore.surfaces.Surface"),
]


@pytest.mark.parametrize("kw, exc, match", BAD, ids=[m[:30] for _, _, m in BAD])
def test_bad_arguments_are_named(kw, exc, match):
    args = {"surface": surfaces.ravine(), "optimisers": [("sgd", {"lr": 0.1})], "steps": 20, **kw}
    with pytest.raises(exc, match=match):
        T.run(**args)


def test_result_helpers_check_their_arguments():
    res = T.run(surfaces.ravine(), [("sgd", {"lr": 0.1})], steps=3)
    with pytest.raises(ValueError, match="i must be <= 0"):
        res.path(1)
    with pytest.raises(ValueError, match="loss_threshold must be finite"):
        res.steps_to(math.nan)
    with pytest.raises(ValueError, match="unknown setting 'adam'"):
        res.runs("adam")


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_on_cuda_equals_cpu():
    s = surfaces.steep_optima()
    gen = torch.Generator().manual_seed(0)
    starts = torch.rand(50, 2, generator=gen, dtype=torch.float64) * 4 - 2
    sets = SWEEP + [("sgd", {"lr": 50.0})]
    cpu = T.run(s, sets, starts, 200, schedule=functools.partial(optim.inverse, decay=0.01))
    gpu = T.run(s, sets, starts.cuda(), 200, device="cuda",
                schedule=functools.partial(optim.inverse, decay=0.01))
    np.testing.assert_allclose(gpu.paths, cpu.paths, rtol=1e-9, atol=1e-9)
    assert np.array_equal(gpu.diverged_at, cpu.diverged_at)
    noisy = T.run(s, sets, starts.cuda(), 50, device="cuda", noise=0.1, seed=1)
    assert np.array_equal(noisy.paths, T.run(s, sets, starts.cuda(), 50, device="cuda", noise=0.1, seed=1).paths)


def test_concat_is_one_run_of_all_the_settings():
    surf = surfaces.get("ravine")
    starts = [(-1.5, 1.0), (1.0, -0.5)]
    # no rule in both parts (one rule's settings share a block of the engine: split, they may differ in the last bit)
    plain = [("sgd", {"lr": 0.08}), ("momentum", {"lr": 0.03, "momentum": 0.9})]           # sgd 0.08 diverges
    adaptive = [("adam", {"lr": 0.1}), ("rmsprop", {"lr": 0.1, "alpha": 0.99}), ("adagrad", {"lr": 0.5})]
    whole = T.run(surf, plain + adaptive, starts, steps=60)
    joined = T.concat(T.run(surf, plain, starts, steps=60), T.run(surfaces.get("ravine"), adaptive, starts, steps=60))
    np.testing.assert_array_equal(joined.paths, whole.paths)
    np.testing.assert_array_equal(joined.losses, whole.losses)
    np.testing.assert_array_equal(joined.diverged_at, whole.diverged_at)
    assert joined.diverged.any() and not joined.diverged.all()
    assert joined.labels == whole.labels and [s.label for s in joined.settings] == [s.label for s in whole.settings]
    np.testing.assert_array_equal(joined.setting, whole.setting)
    np.testing.assert_array_equal(joined.start, whole.start)
    np.testing.assert_array_equal(joined.runs("adam(lr=0.1)"), whole.runs("adam(lr=0.1)"))
    np.testing.assert_array_equal(joined.path(-1), whole.path(-1))


def test_concat_refuses_parts_that_do_not_fit():
    surf = surfaces.get("ravine")
    a = T.run(surf, [("sgd", {"lr": 0.01})], steps=10)
    with pytest.raises(ValueError, match="surfaces"):
        T.concat(a, T.run(surfaces.get("ravine", condition=10), [("sgd", {"lr": 0.01})], steps=10))
    with pytest.raises(ValueError, match="steps"):
        T.concat(a, T.run(surf, [("sgd", {"lr": 0.01})], steps=11))
    with pytest.raises(ValueError, match="steps and starts"):
        T.concat(a, T.run(surf, [("sgd", {"lr": 0.01})], [(0.5, 0.5)], steps=10))
    with pytest.raises(TypeError, match="Trajectories"):
        T.concat(a, "b")
    with pytest.raises(ValueError, match="at least one"):
        T.concat()
