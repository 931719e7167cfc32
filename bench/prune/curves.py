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


UNIT3 = {name: {"kind": "uniform", "low": 0.0, "high": 1.0} for name in ("x0", "x1", "x2")}


class Synthetic:
    """A curve family y(x, t) over UNIT3, with optional Gaussian noise on observed values."""

    def __init__(self, name, curve, noise=0.0):
        self.name, self._curve, self.noise = name, curve, noise
        self.space, self.max_resource = UNIT3, R
        self._optimum = None

    def truth(self, x, t):
        return self._curve(x, hartmann3(x), t)

    def curve(self, point, rng):
        """[(observed, truth)] for t = 1..R."""
        x = [point["x0"], point["x1"], point["x2"]]
        out = []
        for t in range(1, R + 1):
            y = self.truth(x, t)
            out.append((y + (rng.normal(0.0, self.noise) if self.noise else 0.0), y))
        return out

    @property
    def optimum(self):
        if self._optimum is None:
            from scipy.optimize import differential_evolution
            res = differential_evolution(lambda x: self.truth(x, R), [(0, 1)] * 3, seed=0,
                                         tol=1e-12, maxiter=2000, polish=True)
            self._optimum = float(res.fun)
        return self._optimum


def _exp_decay(x, f, t):
    return f + (2 + x[0]) * math.exp(-t / (3 + 10 * x[1]))


def _power_law(x, f, t):
    return f + (1 + 2 * x[2]) * t ** -(0.5 + x[0])


def _crossing(x, f, t):
    e = math.exp(-f)
    return f + 4 * e * math.exp(-t / (2 + 18 * e))


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
