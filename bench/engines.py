"""Engines, and the translation of a hyperflow space to each peer's way of writing it.

Engine names (see `run.py --help`):
  hyperflow_<ALGO>  hyperflow's `stdio_engine --algo ALGO` (any name `algo::by_name` knows:
                    tpe, random, grid, and whatever is added later, e.g. gp, auto)
  optuna_tpe        optuna 5's default sampler for one objective, seeded: TPESampler(seed=s)
                    (multivariate since optuna 5)
  optuna_gp         optuna.samplers.GPSampler(seed=s), defaults (needs torch and scipy)
  rustuna_tpe       rustuna's TPESampler(seed=s), defaults (optuna's Rust port, same API)
  hyperopt_tpe      hyperopt.tpe.suggest, defaults, rstate=np.random.default_rng(s)
  random            independent uniform sampling of the space (this file, numpy, seeded)

Every engine minimises through one `Recorder`, which evaluates the problem, keeps the
observed and the noise-free values (and the points of the suite's problems), and times the
objective so that the optimizer's own time is known.
"""
import json
import logging
import math
import os
import subprocess
import tempfile
import time
import warnings

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_STDIO_ENGINE = os.path.join(REPO, "target", "release", "examples", "stdio_engine")
PEER_ENGINES = ["optuna_tpe", "optuna_gp", "rustuna_tpe", "hyperopt_tpe", "random"]


class EngineError(RuntimeError):
    pass


def check_engine_name(name):
    if name.startswith("hyperflow_") and len(name) > len("hyperflow_"):
        return
    if name not in PEER_ENGINES:
        raise EngineError("unknown engine %r; expected hyperflow_<algo> (e.g. hyperflow_tpe) "
                          "or one of %s" % (name, ", ".join(PEER_ENGINES)))


def check_engine_available(name, stdio_engine):
    """Fails with what is missing and how to install it."""
    if name.startswith("hyperflow_"):
        if not os.access(stdio_engine, os.X_OK):
            raise EngineError("%s: no stdio engine at %s; build it with "
                              "`cargo build --release --example stdio_engine` (or pass "
                              "--stdio-engine PATH)" % (name, stdio_engine))
        return
    modules = {"optuna_tpe": ["optuna"], "optuna_gp": ["optuna", "torch", "scipy"],
               "rustuna_tpe": ["rustuna"], "hyperopt_tpe": ["hyperopt"], "random": []}[name]
    for m in modules:
        try:
            __import__(m)
        except ImportError as e:
            raise EngineError("%s needs the Python module %s (%s); run `bash bench/setup.sh` "
                              "and use its venv's python (~/.cache/hyperflow/bench-venv/bin/"
                              "python)" % (name, m, e))


class Recorder:
    """Evaluates a problem for an engine, in order, and keeps what the scores need."""

    def __init__(self, problem, seed, budget, keep_points):
        self.problem, self.budget, self.keep_points = problem, budget, keep_points
        self.noise_rng = np.random.default_rng([seed, 0x6E6F697365])  # noise stream
        self.observed, self.true, self.points = [], [], []
        self.objective_s = 0.0

    def __call__(self, point):
        if len(self.observed) >= self.budget:
            raise EngineError("engine asked for more than %d evaluations" % self.budget)
        t0 = time.perf_counter()
        y, truth = self.problem.evaluate(point, self.noise_rng)
        self.objective_s += time.perf_counter() - t0
        self.observed.append(y)
        self.true.append(truth)
        if self.keep_points:
            self.points.append({k: _plain(v) for k, v in point.items()})
        return y


def _plain(v):
    return v.item() if hasattr(v, "item") else v


def _options(spec):
    """[(value, subspace)] of a choice."""
    out = []
    for o in spec["options"]:
        if isinstance(o, dict):
            out.append((o["value"], o.get("space", {})))
        else:
            out.append((o, {}))
    return out


def _unsupported(name, kind):
    return EngineError("parameter %r: kind %r has no translation for the peers; the "
                       "translated kinds are uniform, loguniform, quniform, randint, "
                       "choice, const" % (name, kind))


def _spec(spec):
    return spec if isinstance(spec, dict) and "kind" in spec else {"kind": "const", "value": spec}


# ----------------------------------------------------------------------------- sampling
def sample_space(space, draw, out=None):
    """One point of `space`, each value drawn by `draw` (an `OptunaDraw` or a `RandomDraw`);
    a choice's sub-space is sampled only when its option is chosen."""
    out = {} if out is None else out
    for name, raw in space.items():
        spec = _spec(raw)
        kind = spec["kind"]
        if kind in ("uniform", "loguniform", "quniform"):
            out[name] = getattr(draw, kind)(name, spec)
        elif kind == "randint":
            out[name] = draw.integer(name, spec["low"], spec["high"] - 1)
        elif kind == "choice":
            opts = _options(spec)
            value, sub = opts[draw.index(name, [v for v, _ in opts])]
            out[name] = value
            sample_space(sub, draw, out)
        elif kind == "const":
            out[name] = spec["value"]
        else:
            raise _unsupported(name, kind)
    return out


class OptunaDraw:
    """Values through an optuna (or rustuna) trial's suggest_*."""

    def __init__(self, trial):
        self.trial = trial

    def uniform(self, name, spec):
        return self.trial.suggest_float(name, spec["low"], spec["high"])

    def loguniform(self, name, spec):
        return self.trial.suggest_float(name, spec["low"], spec["high"], log=True)

    def quniform(self, name, spec):
        return self.trial.suggest_float(name, spec["low"], spec["high"], step=spec["q"])

    def integer(self, name, low, high):
        return self.trial.suggest_int(name, low, high)

    def index(self, name, values):
        return values.index(self.trial.suggest_categorical(name, values))


class RandomDraw:
    """Independent uniform draws (log-uniform for loguniform) from a numpy Generator."""

    def __init__(self, rng):
        self.rng = rng

    def uniform(self, name, spec):
        return float(self.rng.uniform(spec["low"], spec["high"]))

    def loguniform(self, name, spec):
        return float(math.exp(self.rng.uniform(math.log(spec["low"]), math.log(spec["high"]))))

    def quniform(self, name, spec):
        q = spec["q"]
        k_lo, k_hi = math.ceil(spec["low"] / q - 1e-9), math.floor(spec["high"] / q + 1e-9)
        return float(q * int(self.rng.integers(k_lo, k_hi + 1)))

    def integer(self, name, low, high):
        return int(self.rng.integers(low, high + 1))

    def index(self, name, values):
        return int(self.rng.integers(len(values)))


def random_point(space, rng):
    """An independent uniform draw from the space."""
    return sample_space(space, RandomDraw(rng))


# ----------------------------------------------------------------------------- hyperopt
def hyperopt_space(space):
    """The space as hyperopt's hp.* expressions; a choice's options are dicts holding the
    choice's value and the option's sub-space, flattened back by `flatten_hyperopt`."""
    from hyperopt import hp
    out = {}
    for name, raw in space.items():
        spec = _spec(raw)
        kind = spec["kind"]
        if kind == "uniform":
            out[name] = hp.uniform(name, spec["low"], spec["high"])
        elif kind == "loguniform":
            out[name] = hp.loguniform(name, math.log(spec["low"]), math.log(spec["high"]))
        elif kind == "quniform":
            out[name] = hp.quniform(name, spec["low"], spec["high"], spec["q"])
        elif kind == "randint":
            out[name] = hp.randint(name, spec["low"], spec["high"])
        elif kind == "choice":
            options = []
            for value, sub in _options(spec):
                d = hyperopt_space(sub)
                d[name] = value
                options.append(d)
            out[name] = hp.choice(name, options)
        elif kind == "const":
            out[name] = spec["value"]
        else:
            raise _unsupported(name, kind)
    return out


def flatten_hyperopt(sample, out=None):
    out = {} if out is None else out
    for k, v in sample.items():
        if isinstance(v, dict):
            flatten_hyperopt(v, out)
        else:
            out[k] = _plain(v)
    return out


# ----------------------------------------------------------------------------- runners
def _quiet():
    for n in ("hyperopt", "hyperopt.tpe", "hyperopt.fmin"):
        logging.getLogger(n).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    try:
        import optuna
        optuna.logging.set_verbosity(optuna.logging.ERROR)
        optuna.logging.disable_default_handler()
    except ImportError:
        pass


def _run_hyperflow(algo, rec, space, seed, budget, stdio_engine):
    with tempfile.NamedTemporaryFile("w", suffix=".json", prefix="bench-space-",
                                     delete=False) as fh:
        json.dump(space, fh)
        path = fh.name
    cmd = [stdio_engine, "--space", path, "--algo", algo, "--seed", str(seed)]
    try:
        with subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, bufsize=1) as proc:
            try:
                for _ in range(budget):
                    line = proc.stdout.readline()
                    if not line:
                        break
                    point = json.loads(line)["point"]
                    y = rec(point)
                    proc.stdin.write((json.dumps(y) if math.isfinite(y) else "null") + "\n")
                    proc.stdin.flush()
                proc.stdin.close()
            except BrokenPipeError:
                pass
            err = proc.stderr.read()
            rc = proc.wait()
    finally:
        os.unlink(path)
    if rc != 0 or len(rec.observed) < budget:
        raise EngineError("hyperflow_%s: `%s` exited %d after %d of %d evaluations: %s"
                          % (algo, " ".join(cmd), rc, len(rec.observed), budget,
                             err.strip()[-2000:]))


def _run_optuna_like(engine, rec, space, seed, budget):
    if engine == "rustuna_tpe":
        import rustuna as optuna
        sampler = optuna.samplers.TPESampler(seed=seed)
    else:
        import optuna
        if engine == "optuna_tpe":
            sampler = optuna.samplers.TPESampler(seed=seed)
        else:
            sampler = optuna.samplers.GPSampler(seed=seed)
    study = optuna.create_study(direction="minimize", sampler=sampler)
    study.optimize(lambda trial: rec(sample_space(space, OptunaDraw(trial))),
                   n_trials=budget)


def _run_hyperopt(rec, space, seed, budget):
    from hyperopt import STATUS_OK, Trials, fmin, tpe
    fmin(lambda s: {"loss": rec(flatten_hyperopt(s)), "status": STATUS_OK},
         hyperopt_space(space), algo=tpe.suggest, max_evals=budget, trials=Trials(),
         rstate=np.random.default_rng(seed), show_progressbar=False, verbose=False)


def _run_random(rec, space, seed, budget):
    rng = np.random.default_rng(seed)
    for _ in range(budget):
        rec(random_point(space, rng))


def run_engine(engine, problem, seed, budget, stdio_engine=DEFAULT_STDIO_ENGINE,
               keep_points=False):
    """Minimises `problem` with `engine` for `budget` evaluations; returns the recorder and
    the run's wall time."""
    _quiet()
    rec = Recorder(problem, seed, budget, keep_points)
    t0 = time.perf_counter()
    if engine.startswith("hyperflow_"):
        _run_hyperflow(engine[len("hyperflow_"):], rec, problem.space, seed, budget, stdio_engine)
    elif engine in ("optuna_tpe", "optuna_gp", "rustuna_tpe"):
        _run_optuna_like(engine, rec, problem.space, seed, budget)
    elif engine == "hyperopt_tpe":
        _run_hyperopt(rec, problem.space, seed, budget)
    elif engine == "random":
        _run_random(rec, problem.space, seed, budget)
    else:
        check_engine_name(engine)
    wall = time.perf_counter() - t0
    if len(rec.observed) != budget:
        raise EngineError("%s on %s: %d evaluations instead of %d"
                          % (engine, problem.name, len(rec.observed), budget))
    return rec, wall
