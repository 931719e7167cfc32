"""Learning-curve problems for the pruning benchmark.

Every problem has a hyperflow space (JSON, as `Space::from_json_str` reads it; the optuna side
gets it translated by bench/engines.py), a maximum resource R (steps per full trial) and a
curve per point: the value observed after each step t = 1..R and its noise-free truth. The
objective is the value after R steps; `optimum` is the lowest noise-free value after R steps
over the space, so regret = truth of the chosen trial - optimum.

Synthetic (x0, x1, x2 uniform in [0, 1]; f = Hartmann-3 shifted so its minimum is 0; R = 81;
optimum found by differential evolution on the noise-free value at R):
  exp_decay   f(x) + (2 + x0) exp(-t / (3 + 10 x1))          curves settle by t ~ 40
  power_law   f(x) + (1 + 2 x2) t^-(0.5 + x0)                 slow tails: what is left at R
                                                               depends on x too
  crossing    f(x) + 4 e^-f exp(-t / (2 + 18 e^-f))           slow starters end best: the
                                                               best configurations are the
                                                               worst early (curves cross at
                                                               t ~ 10-25)
  noisy       exp_decay + N(0, 0.1^2) on every observed value  (truth noise-free)

Held out (curves.HELD_OUT: not in the default run, chosen after the choices made on the
others, to check them; R = 81; optimum by differential evolution as above):
  branin_decay         Branin (2-d, /20)              + (1 + x0) exp(-t / (2 + 15 x1))
  hartmann6_power      Hartmann-6 (6-d)               + (0.5 + x1) t^-(0.3 + 0.7 x0)
  rosenbrock4_plateau  log(1 + Rosenbrock) (4-d)      + 8 / (1 + exp((t - 5 - 30 x3) / 4)):
                                                        a plateau, then a drop at a step set
                                                        by x3 (a warm-up); values between
                                                        steps 5 and 35 mislead
  styblinski5_noisy    Styblinski-Tang (5-d, /40)     + the decay of branin_decay,
                                                        N(0, 0.1^2) on every observed value

Real (tabular: the curves come from real training on a grid of settings, computed once and
cached in target/bench/prune/tables/; R = 81; optimum = the best final value in the table):
  gbt         examples/sweeps/python/train.py's gradient boosting (Friedman #1, 300 train,
              200 validation rows), validation MSE after each boosting round;
              lr = 10^lr_exp, lr_exp in -2.0..-0.3 step 0.1, max_depth 1..6 (108 settings)
  linfa_enet  examples/linfa_enet_curve: linfa's ElasticNet on diabetes, validation MSE after
              each coordinate-descent sweep; penalty = 10^penalty_exp, penalty_exp in
              -5..0 step 0.25, l1_ratio 0..1 step 0.1 (231 settings)
"""
import importlib.util
import json
import math
import os
import subprocess

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
TABLES = os.path.join(REPO, "target", "bench", "prune", "tables")
LINFA_CURVE = os.path.join(REPO, "target", "release", "examples", "linfa_enet_curve")
R = 81

_H3_A = np.array([[3.0, 10, 30], [0.1, 10, 35], [3.0, 10, 30], [0.1, 10, 35]])
_H3_P = 1e-4 * np.array([[3689, 1170, 2673], [4699, 4387, 7470],
                         [1091, 8732, 5547], [381, 5743, 8828]])
_H3_C = np.array([1.0, 1.2, 3.0, 3.2])
_H3_MIN = -3.86278214782076


def hartmann3(x):
    """Hartmann-3 on [0, 1]^3, shifted so that its minimum is 0."""
    x = np.asarray(x, dtype=float)
    inner = np.sum(_H3_A * (x - _H3_P) ** 2, axis=1)
    return float(-np.sum(_H3_C * np.exp(-inner)) - _H3_MIN)


def unit_space(dims):
    """[0, 1]^dims as parameters x0, x1, ..."""
    return {"x%d" % i: {"kind": "uniform", "low": 0.0, "high": 1.0} for i in range(dims)}


class Synthetic:
    """A curve family y(x, t) over [0, 1]^dims whose value at R is `final(x)` plus what is
    left of the curve, with optional Gaussian noise on observed values."""

    def __init__(self, name, curve, noise=0.0, final=hartmann3, dims=3):
        self.name, self._curve, self.noise, self._final = name, curve, noise, final
        self.space, self.max_resource = unit_space(dims), R
        self._optimum = None

    def truth(self, x, t):
        return self._curve(x, self._final(x), t)

    def curve(self, point, rng):
        """[(observed, truth)] for t = 1..R."""
        x = [point["x%d" % i] for i in range(len(self.space))]
        out = []
        for t in range(1, R + 1):
            y = self.truth(x, t)
            out.append((y + (rng.normal(0.0, self.noise) if self.noise else 0.0), y))
        return out

    @property
    def optimum(self):
        if self._optimum is None:
            from scipy.optimize import differential_evolution
            res = differential_evolution(lambda x: self.truth(x, R), [(0, 1)] * len(self.space),
                                         seed=0, tol=1e-12, maxiter=2000, polish=True)
            self._optimum = float(res.fun)
        return self._optimum


def _exp_decay(x, f, t):
    return f + (2 + x[0]) * math.exp(-t / (3 + 10 * x[1]))


def _power_law(x, f, t):
    return f + (1 + 2 * x[2]) * t ** -(0.5 + x[0])


def _crossing(x, f, t):
    e = math.exp(-f)
    return f + 4 * e * math.exp(-t / (2 + 18 * e))


# Held out (`HELD_OUT`, not in the default run): other final values, other dimensions and
# other curve shapes, for checking a choice made on the problems above.

_H6_A = np.array([[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14],
                  [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]])
_H6_P = 1e-4 * np.array([[1312, 1696, 5569, 124, 8283, 5886],
                         [2329, 4135, 8307, 3736, 1004, 9991],
                         [2348, 1451, 3522, 2883, 3047, 6650],
                         [4047, 8828, 8732, 5743, 1091, 381]])
_H6_MIN = -3.32236801141551


def hartmann6(x):
    """Hartmann-6 on [0, 1]^6, shifted so that its minimum is 0."""
    inner = np.sum(_H6_A * (np.asarray(x, dtype=float) - _H6_P) ** 2, axis=1)
    return float(-np.sum(_H3_C * np.exp(-inner)) - _H6_MIN)


def branin(x):
    """Branin on [-5, 10] x [0, 15] (from [0, 1]^2), shifted to minimum 0 and divided by 20."""
    a, b = 15 * x[0] - 5, 15 * x[1]
    f = (b - 5.1 / (4 * math.pi ** 2) * a * a + 5 / math.pi * a - 6) ** 2 \
        + 10 * (1 - 1 / (8 * math.pi)) * math.cos(a) + 10
    return (f - 0.397887357729738) / 20


def rosenbrock4(x):
    """log(1 + Rosenbrock) on [-2, 2]^4 (from [0, 1]^4): minimum 0 at (1, 1, 1, 1)."""
    z = 4 * np.asarray(x, dtype=float) - 2
    return float(np.log1p(np.sum(100 * (z[1:] - z[:-1] ** 2) ** 2 + (1 - z[:-1]) ** 2)))


def styblinski5(x):
    """Styblinski-Tang on [-5, 5]^5 (from [0, 1]^5), shifted to minimum 0 and divided by 40."""
    z = 10 * np.asarray(x, dtype=float) - 5
    return float((0.5 * np.sum(z ** 4 - 16 * z ** 2 + 5 * z) + 39.16616570377142 * 5) / 40)


def _decay(x, f, t):
    return f + (1 + x[0]) * math.exp(-t / (2 + 15 * x[1]))


def _slow_power(x, f, t):
    return f + (0.5 + x[1]) * t ** -(0.3 + 0.7 * x[0])


def _plateau(x, f, t):
    """A plateau, then a drop at a step set by the last coordinate (as warm-up does)."""
    return f + 8 / (1 + math.exp((t - 5 - 30 * x[-1]) / 4))


class Tabular:
    """Curves computed once per grid setting by real training, then looked up."""

    def __init__(self, name, space, keys, build):
        self.name, self.space, self.max_resource = name, space, R
        self._keys, self._build, self._table = keys, build, None

    def _key(self, point):
        return ",".join("%.4f" % (round(point[k] / q) * q) for k, q in self._keys)

    @property
    def table(self):
        if self._table is None:
            path = os.path.join(TABLES, self.name + ".json")
            if not os.path.exists(path):
                os.makedirs(TABLES, exist_ok=True)
                table = {}
                for point in _grid(self.space):
                    table[self._key(point)] = self._build(point)
                with open(path + ".tmp", "w") as fh:
                    json.dump(table, fh)
                os.replace(path + ".tmp", path)
            with open(path) as fh:
                self._table = json.load(fh)
        return self._table

    def curve(self, point, rng):
        values = self.table[self._key(point)]
        return [(v, v) for v in values]

    @property
    def optimum(self):
        return min(v[-1] for v in self.table.values())


def _grid(space):
    """Every point of a space of quniform and randint parameters."""
    axes = []
    for name, spec in space.items():
        if spec["kind"] == "quniform":
            q = spec["q"]
            n = int(round((spec["high"] - spec["low"]) / q))
            axes.append([(name, spec["low"] + k * q) for k in range(n + 1)])
        else:
            axes.append([(name, v) for v in range(spec["low"], spec["high"])])
    points = [{}]
    for axis in axes:
        points = [dict(p, **{name: v}) for p in points for name, v in axis]
    return points


def _train_module():
    path = os.path.join(REPO, "examples", "sweeps", "python", "train.py")
    spec = importlib.util.spec_from_file_location("sweep_train", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _gbt_curve(point):
    train = _train_module()
    data = train.datasets(300)
    vy = data[1][1]
    return [train.mse(vpred, vy) for _, _, vpred in
            train.gbt_rounds(10 ** point["lr_exp"], int(point["max_depth"]), R, *data)]


def _linfa_curve(point):
    if not os.access(LINFA_CURVE, os.X_OK):
        raise RuntimeError("no %s; build it with `cargo build --release --example "
                           "linfa_enet_curve`" % LINFA_CURVE)
    out = subprocess.run([LINFA_CURVE, "--penalty", repr(10 ** point["penalty_exp"]),
                          "--l1-ratio", repr(point["l1_ratio"]), "--sweeps", str(R)],
                         check=True, capture_output=True, text=True).stdout
    return [json.loads(line)["val_mse"] for line in out.splitlines()]


def _q(low, high, q):
    return {"kind": "quniform", "low": low, "high": high, "q": q}


HELD_OUT = {
    "branin_decay": Synthetic("branin_decay", _decay, final=branin, dims=2),
    "hartmann6_power": Synthetic("hartmann6_power", _slow_power, final=hartmann6, dims=6),
    "rosenbrock4_plateau": Synthetic("rosenbrock4_plateau", _plateau, final=rosenbrock4,
                                     dims=4),
    "styblinski5_noisy": Synthetic("styblinski5_noisy", _decay, noise=0.1, final=styblinski5,
                                   dims=5),
}

PROBLEMS = {
    "exp_decay": Synthetic("exp_decay", _exp_decay),
    "power_law": Synthetic("power_law", _power_law),
    "crossing": Synthetic("crossing", _crossing),
    "noisy": Synthetic("noisy", _exp_decay, noise=0.1),
    "gbt": Tabular("gbt", {"lr_exp": _q(-2.0, -0.3, 0.1),
                           "max_depth": {"kind": "randint", "low": 1, "high": 7}},
                   [("lr_exp", 0.1), ("max_depth", 1)], _gbt_curve),
    "linfa_enet": Tabular("linfa_enet", {"penalty_exp": _q(-5.0, 0.0, 0.25),
                                         "l1_ratio": _q(0.0, 1.0, 0.1)},
                          [("penalty_exp", 0.25), ("l1_ratio", 0.1)], _linfa_curve),
}

#: Every problem by name; the default run is the suite above, not the held-out ones.
SUITE = list(PROBLEMS)
PROBLEMS.update(HELD_OUT)
