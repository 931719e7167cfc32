"""The benchmark's problems: COCO's BBOB functions and a suite of our own.

Every problem is written once, as a hyperflow search space (the JSON schema of hyperflow's
README, "Search spaces in TOML and JSON") plus an objective over points (a dict of the
active parameters' values). Engines other than hyperflow get the same space through the
translation layer in `engines.py`.

A problem object has:
  name, family ("bbob" or "suite"), space (dict, hyperflow JSON), f_opt (known optimum),
  dim (BBOB: the dimension; suite: the number of parameters of the largest branch),
  evaluate(point, rng) -> (observed, true)   `true` is the noise-free value; regret is
                                              measured on it; `rng` is a numpy Generator
                                              seeded from the run's seed (noisy problems only)
  branch(point) -> str or None                the deceptive-branch problem says "right" or
                                              "wrong" (the wrong-branch rate reads it)
"""
import math

import numpy as np

# ----------------------------------------------------------------------------- BBOB

BBOB_FUNCTIONS = list(range(1, 25))
BBOB_DIMS = [2, 5, 10, 20]
# COCO's groups of the 24 noiseless functions.
BBOB_GROUPS = {
    "separable": range(1, 6),
    "low/moderate conditioning": range(6, 10),
    "high conditioning, unimodal": range(10, 15),
    "multimodal, adequate structure": range(15, 20),
    "multimodal, weak structure": range(20, 25),
}
BBOB_LOW, BBOB_HIGH = -5.0, 5.0


def _cocoex():
    try:
        import cocoex  # noqa: F401
    except ImportError as e:
        raise SystemExit(
            "bench: cannot import cocoex (%s); BBOB needs coco-experiment==2.8.2: "
            "run `bash bench/setup.sh` and use its venv's python" % e)
    return cocoex


class BbobProblem:
    family = "bbob"

    def __init__(self, function, dim, instance):
        self.function, self.dim, self.instance = function, dim, instance
        self.name = "bbob_f%02d_d%d_i%d" % (function, dim, instance)
        self.space = {"x%d" % j: {"kind": "uniform", "low": BBOB_LOW, "high": BBOB_HIGH}
                      for j in range(dim)}
        # BareProblem: the C core's function alone (no observer, no logging); its
        # best_value is f_opt, read only for scoring (engines never see it).
        self._problem = _cocoex().BareProblem("bbob", function, dim, instance)
        self.f_opt = float(_call(self._problem.best_value))

    def evaluate(self, point, rng=None):
        x = np.array([point["x%d" % j] for j in range(self.dim)], dtype=float)
        y = float(self._problem(x))
        return y, y

    def branch(self, point):
        return None


def _call(attr):
    return attr() if callable(attr) else attr


# ----------------------------------------------------------------------------- our suite
#
# Each problem has a known optimum (0 unless said). Constants come from fixed generator
# seeds written here, never from the run's seed, so every run sees the same problem; the
# run's seed only drives the noise of the noisy problems.


class SuiteProblem:
    family = "suite"

    def __init__(self, name, space, f, f_opt=0.0, noise=0.0, branch=None, about=""):
        self.name, self.space, self._f, self.f_opt = name, space, f, f_opt
        self.noise, self._branch, self.about = noise, branch, about
        self.dim = _count_leaf_params(space)

    def evaluate(self, point, rng=None):
        y = float(self._f(point))
        if self.noise:
            return y + self.noise * float(rng.standard_normal()), y
        return y, y

    def branch(self, point):
        return self._branch(point) if self._branch else None


def _count_leaf_params(space):
    n = 0
    for spec in space.values():
        if isinstance(spec, dict) and spec.get("kind") == "choice":
            n += 1 + max((_count_leaf_params(o["space"]) for o in spec["options"]
                          if isinstance(o, dict) and "space" in o), default=0)
        else:
            n += 1
    return n


def _u(low, high):
    return {"kind": "uniform", "low": low, "high": high}


def _logu(low, high):
    return {"kind": "loguniform", "low": low, "high": high}


def _randint(low, high):
    return {"kind": "randint", "low": low, "high": high}


def _choice(*options):
    return {"kind": "choice", "options": list(options)}


def _opt(value, **space):
    return {"value": value, "space": space}


# --- deceptive branches: branch "wide" looks better early, "narrow" holds the optimum.
_DEC_C = (0.7, 0.2, 0.55)
_DEC_SIGMA = 0.3


def _deceptive(p):
    if p["branch"] == "wide":
        return 0.25 + 0.5 * ((p["a1"] - 0.3) ** 2 + (p["a2"] - 0.6) ** 2)
    d2 = sum((p["b%d" % (j + 1)] - c) ** 2 for j, c in enumerate(_DEC_C))
    return 1.0 - math.exp(-d2 / (2 * _DEC_SIGMA ** 2))


DECEPTIVE_SPACE = {
    "branch": _choice(
        _opt("wide", a1=_u(0, 1), a2=_u(0, 1)),
        _opt("narrow", b1=_u(0, 1), b2=_u(0, 1), b3=_u(0, 1)),
    )
}


# --- three levels of nesting: family -> model -> variant; the optimum is three levels down.
def _nested(p):
    fam = p["family"]
    if fam == "linear":
        base = 0.35 + 0.1 * (math.log10(p["lin_c"]) - 0.5) ** 2
        if p["penalty"] == "elasticnet":
            return base - 0.05 + 0.4 * (p["l1_ratio"] - 0.3) ** 2
        return base + (0.0 if p["penalty"] == "l2" else 0.03)
    if fam == "tree":
        if p["ensemble"] == "forest":
            return 0.2 + 0.002 * (p["n_trees"] - 300) ** 2 / 100 + 0.5 * (p["max_feat"] - 0.4) ** 2
        # boosting: the best region, with a level-3 choice of subsampling
        r = (math.log10(p["gb_lr"]) + 1.5) ** 2 + 0.05 * (p["gb_depth"] - 5) ** 2
        if p["subsample"] == "rows":
            return r + 0.8 * (p["row_frac"] - 0.7) ** 2
        if p["subsample"] == "cols":
            return 0.04 + r + 0.8 * (p["col_frac"] - 0.5) ** 2
        return 0.08 + r
    # net
    w = {"64": 0.1, "128": 0.04, "256": 0.06}[p["width"]]
    return 0.15 + w + 0.03 * (p["layers"] - 3) ** 2 + (math.log10(p["net_lr"]) + 3) ** 2 * 0.1


NESTED_SPACE = {
    "family": _choice(
        _opt("linear", lin_c=_logu(1e-3, 1e3),
             penalty=_choice("l1", "l2", _opt("elasticnet", l1_ratio=_u(0, 1)))),
        _opt("tree", ensemble=_choice(
            _opt("forest", n_trees=_randint(10, 1000), max_feat=_u(0.05, 1.0)),
            _opt("boosting", gb_lr=_logu(1e-4, 1.0), gb_depth=_randint(1, 12),
                 subsample=_choice("none", _opt("rows", row_frac=_u(0.1, 1.0)),
                                   _opt("cols", col_frac=_u(0.1, 1.0)))))),
        _opt("net", layers=_randint(1, 9), width=_choice("64", "128", "256"),
             net_lr=_logu(1e-5, 1e-1)),
    )
}


# --- a choice of 20 options, each option moving the optimum of two reals.
_MANY_RNG = np.random.default_rng(20240613)
_MANY_OFFSET = _MANY_RNG.uniform(0.15, 1.0, size=20)
_MANY_BEST = 13
_MANY_OFFSET[_MANY_BEST] = 0.0
_MANY_CENTER = _MANY_RNG.uniform(0.2, 0.8, size=(20, 2))


def _many(p):
    k = int(p["op"][3:])
    cx, cy = _MANY_CENTER[k]
    return float(_MANY_OFFSET[k]) + (p["x"] - cx) ** 2 + (p["y"] - cy) ** 2


MANY_SPACE = {"op": _choice(*["op_%02d" % k for k in range(20)]), "x": _u(0, 1), "y": _u(0, 1)}


# --- ordinal integers: wide integer ranges and ordered numeric choices.
def _ordinal(p):
    return (0.02 * (p["layers"] - 6) ** 2
            + ((p["units"] - 337) / 120.0) ** 2
            + 0.5 * (math.log2(p["batch"]) - 6) ** 2 / 4
            + 0.3 * ((p["epochs"] - 40) / 20.0) ** 2
            + ((p["heads"] - 6) / 3.0) ** 2)


ORDINAL_SPACE = {
    "layers": _randint(1, 17),
    "units": _randint(16, 1025),
    "batch": _choice(8, 16, 32, 64, 128, 256, 512),
    "epochs": {"kind": "quniform", "low": 5, "high": 100, "q": 5},
    "heads": _choice(1, 2, 4, 6, 8, 12, 16),
}


# --- a mixed space: reals, log-reals, integers, choices, with interactions.
def _mixed(p):
    opt_pen = {"adam": 0.0, "sgd": 0.15, "rmsprop": 0.05}[p["optimizer"]]
    # the best learning rate depends on the optimizer; the best dropout on the depth
    lr_star = {"adam": -3.0, "sgd": -1.5, "rmsprop": -3.5}[p["optimizer"]]
    act_pen = {"relu": 0.02, "gelu": 0.0, "tanh": 0.1, "sigmoid": 0.3}[p["activation"]]
    drop_star = 0.05 * p["depth"]
    return (opt_pen + act_pen
            + 0.25 * (math.log10(p["lr"]) - lr_star) ** 2
            + 0.1 * (math.log10(p["weight_decay"]) + 4) ** 2
            + 2.0 * (p["dropout"] - drop_star) ** 2
            + 0.01 * (p["depth"] - 4) ** 2
            + 0.5 * (p["momentum"] - 0.9) ** 2)


MIXED_SPACE = {
    "lr": _logu(1e-5, 1.0),
    "weight_decay": _logu(1e-7, 1e-1),
    "dropout": _u(0.0, 0.6),
    "momentum": _u(0.0, 0.99),
    "depth": _randint(1, 13),
    "activation": _choice("relu", "gelu", "tanh", "sigmoid"),
    "optimizer": _choice("adam", "sgd", "rmsprop"),
}


# --- many discrete parameters over a fixed synthetic table (as tabular HPO benchmarks).
class _Table:
    """A table over a product of choices: main effects (smooth along the order of numeric
    options, arbitrary for categorical ones), pairwise and three-way interactions, all drawn
    from a fixed seed. Its best entry is found by enumerating the whole table."""

    def __init__(self, seed, params):
        rng = np.random.default_rng(seed)
        self.params = params  # [(name, options, ordered)]
        self.sizes = [len(o) for _, o, _ in params]
        self.main = []
        for _, opts, ordered in params:
            n = len(opts)
            if ordered:  # a smooth bowl over the option order, with a random centre
                c = rng.uniform(0, n - 1)
                e = rng.uniform(0.02, 0.08) * (np.arange(n) - c) ** 2
                e += rng.normal(0, 0.01, n)
            else:
                e = rng.exponential(0.08, n)
            self.main.append(e - e.min())
        k = len(params)
        pairs = [(i, j) for i in range(k) for j in range(i + 1, k)]
        chosen = rng.choice(len(pairs), size=k, replace=False)
        self.pairs = [(pairs[c][0], pairs[c][1],
                       rng.normal(0, 0.05, (self.sizes[pairs[c][0]], self.sizes[pairs[c][1]])))
                      for c in chosen]
        trip = rng.choice(k, size=3, replace=False)
        self.triple = (tuple(int(t) for t in trip),
                       rng.normal(0, 0.04, tuple(self.sizes[t] for t in trip)))
        self.base = 0.1
        self.best = None
        self.best = self._enumerate_best()

    def value_idx(self, idx):
        v = self.base + sum(self.main[i][idx[i]] for i in range(len(idx)))
        for i, j, m in self.pairs:
            v += m[idx[i], idx[j]]
        t, m = self.triple
        v += m[idx[t[0]], idx[t[1]], idx[t[2]]]
        return float(v)

    def _all_values(self):
        """Every entry of the table: (option indices per parameter, values)."""
        grids = np.indices(self.sizes).reshape(len(self.sizes), -1)
        v = np.full(grids.shape[1], self.base)
        for i, e in enumerate(self.main):
            v += e[grids[i]]
        for i, j, m in self.pairs:
            v += m[grids[i], grids[j]]
        t, m = self.triple
        v += m[grids[t[0]], grids[t[1]], grids[t[2]]]
        return grids, v

    def _enumerate_best(self):
        return float(self._all_values()[1].min())

    def argmin(self):
        grids, v = self._all_values()
        k = int(v.argmin())
        return {name: opts[int(grids[i, k])] for i, (name, opts, _) in enumerate(self.params)}

    def space(self):
        return {name: _choice(*opts) for name, opts, _ in self.params}

    def __call__(self, p):
        return self.value_idx([opts.index(p[name]) for name, opts, _ in self.params])


_TABLE_PARAMS = [
    ("lr", [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2], True),
    ("batch_size", [16, 32, 64, 128, 256], True),
    ("units_1", [16, 32, 64, 128, 256, 512], True),
    ("units_2", [16, 32, 64, 128, 256, 512], True),
    ("dropout_1", [0.0, 0.3, 0.6], True),
    ("dropout_2", [0.0, 0.3, 0.6], True),
    ("activation_1", ["relu", "tanh"], False),
    ("activation_2", ["relu", "tanh", "elu"], False),
    ("schedule", ["cosine", "constant", "step", "linear"], False),
]
_TABLES = {}


def _table(seed):
    if seed not in _TABLES:
        _TABLES[seed] = _Table(seed, _TABLE_PARAMS)
    return _TABLES[seed]


# --- noisy objectives: Hartmann-6 (known optimum) and the mixed space, with added noise.
_H6_A = np.array([[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14],
                  [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]])
_H6_P = 1e-4 * np.array([[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
                         [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]])
_H6_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
H6_OPT = -3.32236801141551


def _hartmann6(p):
    x = np.array([p["x%d" % j] for j in range(6)])
    return float(-np.sum(_H6_ALPHA * np.exp(-np.sum(_H6_A * (x - _H6_P) ** 2, axis=1))))


def _suite():
    def tab(seed):
        t = _table(seed)
        return t.space(), t, t.best

    ta_space, ta_f, ta_best = tab(7)
    tb_space, tb_f, tb_best = tab(11)
    return [
        SuiteProblem("deceptive_branch", DECEPTIVE_SPACE, _deceptive,
                     branch=lambda p: "right" if p["branch"] == "narrow" else "wrong",
                     about="two branches; `wide` (2 reals) is better for random points, "
                           "`narrow` (3 reals, a Gaussian well) holds the optimum 0 "
                           "(`wide` cannot go below 0.25)"),
        SuiteProblem("nested3", NESTED_SPACE, _nested,
                     about="three levels of conditional choices (family > ensemble > "
                           "subsampling), 13 conditional parameters; optimum 0 three levels down"),
        SuiteProblem("many_options", MANY_SPACE, _many,
                     about="a 20-option choice, each option moving the optimum of 2 reals "
                           "and adding an offset; one option reaches 0"),
        SuiteProblem("ordinal", ORDINAL_SPACE, _ordinal,
                     about="wide integer ranges (randint 1-16, 16-1024), a quantized real, "
                           "and ordered numeric choices (batch, heads)"),
        SuiteProblem("mixed", MIXED_SPACE, _mixed,
                     about="log-reals, reals, an integer and two choices; the best lr "
                           "depends on the optimizer, the best dropout on the depth"),
        SuiteProblem("tabular_a", ta_space, ta_f, f_opt=ta_best,
                     about="9 choices (2-6 options), a fixed synthetic table with pairwise "
                           "and 3-way interactions (seed 7); regret against its best entry"),
        SuiteProblem("tabular_b", tb_space, tb_f, f_opt=tb_best,
                     about="as tabular_a over another table (seed 11)"),
        SuiteProblem("noisy_hartmann6", {"x%d" % j: _u(0, 1) for j in range(6)}, _hartmann6,
                     f_opt=H6_OPT, noise=0.1,
                     about="Hartmann-6 plus N(0, 0.1^2) noise; regret of the trial that "
                           "looks best, on the noise-free function"),
        SuiteProblem("noisy_mixed", MIXED_SPACE, _mixed, noise=0.1,
                     about="the mixed problem plus N(0, 0.1^2) noise"),
    ]


SUITE_NAMES = ["deceptive_branch", "nested3", "many_options", "ordinal", "mixed",
               "tabular_a", "tabular_b", "noisy_hartmann6", "noisy_mixed"]
_SUITE_CACHE = {}


def suite_problem(name):
    if not _SUITE_CACHE:
        for p in _suite():
            _SUITE_CACHE[p.name] = p
    if name not in _SUITE_CACHE:
        raise KeyError("unknown suite problem %r; known: %s" % (name, ", ".join(SUITE_NAMES)))
    return _SUITE_CACHE[name]


def known_optimum_points():
    """Points where each suite problem reaches its optimum (checked by `run.py --check`)."""
    many = {"op": "op_%02d" % _MANY_BEST, "x": float(_MANY_CENTER[_MANY_BEST][0]),
            "y": float(_MANY_CENTER[_MANY_BEST][1])}
    mixed = {"lr": 1e-3, "weight_decay": 1e-4, "dropout": 0.2, "momentum": 0.9, "depth": 4,
             "activation": "gelu", "optimizer": "adam"}
    out = {
        "deceptive_branch": {"branch": "narrow", "b1": _DEC_C[0], "b2": _DEC_C[1], "b3": _DEC_C[2]},
        "nested3": {"family": "tree", "ensemble": "boosting", "gb_lr": 10 ** -1.5, "gb_depth": 5,
                    "subsample": "rows", "row_frac": 0.7},
        "many_options": many,
        "ordinal": {"layers": 6, "units": 337, "batch": 64, "epochs": 40, "heads": 6},
        "mixed": mixed,
        "noisy_mixed": mixed,
        "noisy_hartmann6": {"x%d" % j: v for j, v in enumerate(
            [0.20168952, 0.15001069, 0.47687398, 0.27533243, 0.31165162, 0.65730054])},
    }
    for name in ("tabular_a", "tabular_b"):
        out[name] = suite_problem(name)._f.argmin()
    return out
