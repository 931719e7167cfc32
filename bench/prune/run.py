#!/usr/bin/env python3
"""The pruning benchmark: hyperflow's and optuna's TPE with and without pruners, side by side
on the same learning-curve problems (bench/prune/curves.py) and the same step budgets.

Set up:  bash bench/setup.sh          (the venv with optuna 5.0.0, numpy, scipy; builds the
                                       stdio engine)
         cargo build --release --example stdio_engine --example linfa_enet_curve
Run:     nice ~/.cache/hyperflow/bench-venv/bin/python bench/prune/run.py --jobs 2
         (everything: 6 problems x 8 engines x 20 seeds; resumable)
         run.py --problems branin_decay,hartmann6_power,rosenbrock4_plateau,styblinski5_noisy
                                           the held-out problems (curves.HELD_OUT), not in
                                           the default run: for checking a choice made on
                                           the six
         run.py --summary-only             re-score what the results file holds (the runs
                                           of --seeds, --engines and --problems)
         run.py --smoke                    seconds: exp_decay, 2 seeds, both engines with
                                           none and asha and both crossed with asha, and
                                           hyperflow's asha with a setting;
                                           checks the runs (CI runs it)

Engines (--engines, comma list): SIDE:PRUNER
  SIDE    hyperflow  examples/stdio_engine --algo tpe (--algo-name to change) --pruner PRUNER
          optuna     optuna.samplers.TPESampler(seed=s) (optuna 5: multivariate), ask/tell
  PRUNER  (names of hyperflow::prune::PrunerKind, defaults on both sides, which are the same)
          none       hyperflow: no pruner;        optuna: NopPruner()
          asha       SuccessiveHalving::new();    SuccessiveHalvingPruner() (min resource
                                                  auto, reduction factor 4, rate 0)
          hyperband  Hyperband::new();            HyperbandPruner() (min 1, max auto, eta 3)
          median     Median::new();               MedianPruner() (5 startup trials, no warmup)
          hyperflow's side also takes settings over the defaults, as the stdio engine's
          --pruner: PRUNER/KEY=VALUE/... (hyperflow:hyperband/brackets=separate; the keys
          of a sweep's [pruner] table), which name an engine of their own
  Crossed (not in the default run): hyperflow+optuna:PRUNER is hyperflow's sampler with
  optuna's pruner, optuna+hyperflow:PRUNER the other way round: the sampler's side asks and
  is told every value (no pruner of its own), the pruner's side decides (its own points,
  drawn at random, unused). They tell a difference of the samplers from one of the pruners.

One run (problem, engine, seed)
  Trials are asked one at a time. A trial's curve has R steps (R = 81 here); the driver spends
  one step per value: steps 1..R-1 are reported to the pruner (pruned: the trial stops there
  and is told PRUNED), step R is the trial's value (told COMPLETE). The run stops when the
  steps spent reach the budget B = --budget-trials x R (default 30 x 81 = 2430 steps): the
  trial in progress then is cut (neither complete nor pruned). Every trial is kept: steps,
  end (cumulative steps when it ended), state, last observed value and its noise-free truth.
  Results: one JSON line per run in OUT_DIR/runs.jsonl (default target/bench/prune); a run
  already there is not run again, so an interrupted benchmark resumes.

Scores (per problem and engine, over seeds; printed and written to OUT_DIR/summary.md)
  regret(b)      after b steps: truth of the complete trial with the best observed value so far
                 minus the problem's optimum (inf before any trial completed); med = the median
                 over seeds
  regret @ B     med regret(B): quality at equal total steps
  steps to q     the fewest steps b with med regret(b) <= q, where q = med regret(B) of the same
                 side's no-pruning engine ("equal quality"); x fewer = that engine's steps to q
                 / this engine's (>= 3 is the issue's target for asha and hyperband);
                 its 90% interval: bootstrap over seeds (the same seeds drawn for both
                 engines; 0 where a draw never reaches q);
                 x fewer (strict): the same with q = the better no-pruning engine's med
                 regret(B) and that engine's steps to it
  p vs optuna    hyperflow's rows: two-sided Mann-Whitney U p-value of regret(B) over seeds
                 against optuna with the same pruner (small: the medians differ beyond noise)
  fixed trials   the first N = --budget-trials trials (as many as no pruning runs): median
                 steps they spent and median regret of their best complete trial
"""
import argparse
import concurrent.futures as cf
import json
import math
import os
import subprocess
import sys
import tempfile
import time

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

import numpy as np  # noqa: E402

import curves as P  # noqa: E402

REPO = P.REPO
STDIO_ENGINE = os.path.join(REPO, "target", "release", "examples", "stdio_engine")
SIDES = ("hyperflow", "optuna")
PRUNERS = ("none", "asha", "hyperband", "median")
ENGINES = ["%s:%s" % (s, p) for p in PRUNERS for s in SIDES]
# One side's sampler with the other's pruner (SAMPLER+PRUNER:KIND), to tell which of the two
# makes a difference; not in the default run.
CROSSED = ["%s+%s:%s" % (a, b, p) for p in PRUNERS[1:] for a, b in (SIDES, SIDES[::-1])]
STATES = ("complete", "pruned", "cut")


class HyperflowDriver:
    """hyperflow's study over the stdio engine's protocol (see examples/stdio_engine.rs)."""

    def __init__(self, space, seed, pruner, algo, engine=STDIO_ENGINE):
        with tempfile.NamedTemporaryFile("w", suffix=".json", prefix="prune-space-",
                                         delete=False) as fh:
            json.dump(space, fh)
            self.space_path = fh.name
        self.cmd = [engine, "--space", self.space_path, "--algo", algo, "--seed", str(seed),
                    "--pruner", pruner]
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, bufsize=1)

    def _send(self, obj):
        self.proc.stdin.write(json.dumps(obj) + "\n")
        self.proc.stdin.flush()

    def _read(self):
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("`%s` stopped: %s" % (" ".join(self.cmd),
                                                     self.proc.stderr.read().strip()))
        return json.loads(line)

    def ask(self):
        return self._read()["point"]

    def report(self, step, value):
        self._send({"report": step, "value": value})
        return self._read()["prune"]

    def complete(self, value):
        self._send(value)

    def pruned(self):
        self._send({"pruned": True})

    def close(self):
        self.proc.stdin.close()
        err = self.proc.stderr.read()
        rc = self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()
        os.unlink(self.space_path)
        if rc != 0:
            raise RuntimeError("`%s` exited %d: %s" % (" ".join(self.cmd), rc, err.strip()))


class OptunaDriver:
    """optuna's TPESampler with one of its pruners, through ask/tell."""

    def __init__(self, space, seed, pruner, sampler="tpe"):
        import optuna
        from engines import OptunaDraw, sample_space
        optuna.logging.set_verbosity(optuna.logging.ERROR)
        self.optuna, self.space = optuna, space
        self.draw, self.sample = OptunaDraw, sample_space
        pruners = {"none": optuna.pruners.NopPruner, "asha": optuna.pruners.SuccessiveHalvingPruner,
                   "hyperband": optuna.pruners.HyperbandPruner,
                   "median": optuna.pruners.MedianPruner}
        # HyperbandPruner draws a trial's bracket from a CRC of the study's name and the
        # trial's number; a name made of the seed makes its runs reproducible (an unnamed
        # study gets a random one).
        self.study = optuna.create_study(direction="minimize", pruner=pruners[pruner](),
                                         sampler=(optuna.samplers.TPESampler(seed=seed)
                                                  if sampler == "tpe"
                                                  else optuna.samplers.RandomSampler(seed)),
                                         study_name="prune-seed-%d" % seed)
        self.trial = None

    def ask(self):
        self.trial = self.study.ask()
        return self.sample(self.space, self.draw(self.trial))

    def report(self, step, value):
        self.trial.report(value, step)
        return self.trial.should_prune()

    def complete(self, value):
        self.study.tell(self.trial, value)

    def pruned(self):
        self.study.tell(self.trial, state=self.optuna.trial.TrialState.PRUNED)

    def close(self):
        pass


class CrossedDriver:
    """One side's sampler (told every value, no pruner of its own) and the other side's
    pruner (its sampler's points unused: random)."""

    def __init__(self, sampler, pruner):
        self.sampler, self.pruner = sampler, pruner

    def ask(self):
        self.pruner.ask()
        return self.sampler.ask()

    def report(self, step, value):
        self.sampler.report(step, value)
        return self.pruner.report(step, value)

    def complete(self, value):
        self.sampler.complete(value)
        self.pruner.complete(value)

    def pruned(self):
        self.sampler.pruned()
        self.pruner.pruned()

    def close(self):
        self.sampler.close()
        self.pruner.close()


def driver_for(side, space, seed, pruner, algo, judge_only=False):
    """A side's driver; `judge_only`: for its pruner alone (random points)."""
    if side == "hyperflow":
        return HyperflowDriver(space, seed, pruner, "random" if judge_only else algo)
    return OptunaDriver(space, seed, pruner, "random" if judge_only else "tpe")


def run_one(problem_name, engine, seed, budget, algo):
    """One run; returns its record (see the module's doc)."""
    problem = P.PROBLEMS[problem_name]
    side, pruner = engine.split(":")
    if "+" in side:
        sampler_side, pruner_side = side.split("+")
        driver = CrossedDriver(driver_for(sampler_side, problem.space, seed, "none", algo),
                               driver_for(pruner_side, problem.space, seed, pruner, algo,
                                          judge_only=True))
    else:
        driver = driver_for(side, problem.space, seed, pruner, algo)
    noise = np.random.default_rng([seed, 0x707275])
    t0 = time.perf_counter()
    steps, trials = 0, []
    try:
        while steps < budget:
            point = driver.ask()
            curve = problem.curve(point, noise)
            for t, (observed, truth) in enumerate(curve, start=1):
                steps += 1
                if t == len(curve):
                    driver.complete(observed)
                    state = "complete"
                    break
                if steps >= budget:
                    state = "cut"
                    break
                if driver.report(t, observed):
                    driver.pruned()
                    state = "pruned"
                    break
            trials.append([t, steps, STATES.index(state), observed, truth])
    finally:
        driver.close()
    return {"problem": problem_name, "engine": engine, "seed": seed, "budget": budget,
            "algo": algo if side.startswith("hyperflow") else "optuna TPESampler",
            "wall_s": round(time.perf_counter() - t0, 3), "trials": trials}


# ----------------------------------------------------------------------------- scores
def regret_curve(run, optimum):
    """regret(b) for b = 1..budget (index b - 1)."""
    out = np.full(run["budget"], np.inf)
    best = None
    for steps, end, state, value, truth in run["trials"]:
        if STATES[state] == "complete" and (best is None or value < best[0]):
            best = (value, truth)
            out[end - 1:] = truth - optimum
    return out


def first_reached(curve, q):
    """The fewest steps at which `curve` (indexed b - 1) is <= q; None if never."""
    hit = np.nonzero(curve <= q + 1e-12)[0]
    return int(hit[0]) + 1 if hit.size else None


def seeds_of(runs):
    return [r["seed"] for r in runs]


def ratio_interval(ref_curves, curves, resamples=400):
    """A 90% bootstrap interval of x fewer: seeds drawn with replacement (the same draw for
    both engines, which ran the same seeds), the medians and the ratio computed again; a
    draw where this engine never reaches the quality counts as 0."""
    rng = np.random.default_rng(0)
    n = len(curves)
    ratios = np.empty(resamples)
    for k in range(resamples):
        pick = rng.integers(0, n, n)
        ref = np.median(ref_curves[pick], axis=0)
        q = ref[-1]
        steps = first_reached(np.median(curves[pick], axis=0), q)
        ratios[k] = first_reached(ref, q) / steps if steps else 0.0
    lo, hi = np.quantile(ratios, [0.05, 0.95])
    return float(lo), float(hi)


def summarize(runs, budget_trials, engines, problems):
    """Rows of scores per problem and engine."""
    rows = []
    for name in problems:
        problem = P.PROBLEMS[name]
        optimum = problem.optimum
        budget = budget_trials * problem.max_resource
        by_engine = {}
        for engine in engines:
            rs = sorted((r for r in runs if r["problem"] == name and r["engine"] == engine
                         and r["budget"] == budget), key=lambda r: r["seed"])
            if rs:
                by_engine[engine] = rs
        curves = {e: np.stack([regret_curve(r, optimum) for r in rs])
                  for e, rs in by_engine.items()}
        medians = {e: np.median(c, axis=0) for e, c in curves.items()}
        nones = [e for e in ("hyperflow:none", "optuna:none") if e in medians]
        # The stricter quality: the better no-pruning engine's, reached as fast as it did.
        best_none = min(nones, key=lambda e: medians[e][-1]) if nones else None
        for engine, rs in by_engine.items():
            side, pruner = engine.split(":")
            # A crossed engine's quality to reach is its sampler's side without pruning.
            none = side.split("+")[0] + ":none"
            ref = medians.get(none)
            row = {"problem": name, "engine": engine, "seeds": len(rs),
                   "regret_B": float(medians[engine][-1]),
                   "regret_B3": float(medians[engine][budget // 3 - 1]),
                   "trials": float(np.median([len(r["trials"]) for r in rs])),
                   "pruned": float(np.median([sum(t[2] == 1 for t in r["trials"])
                                              for r in rs])),
                   "wall_s": float(np.median([r["wall_s"] for r in rs]))}
            if ref is not None:
                q = float(ref[-1])
                ref_steps, steps = first_reached(ref, q), first_reached(medians[engine], q)
                row.update(q=q, steps_to_q=steps, ratio=(ref_steps / steps if steps else None))
                if pruner != "none" and seeds_of(by_engine[engine]) == seeds_of(by_engine[none]):
                    row["ratio_90"] = ratio_interval(curves[none], curves[engine])
            if best_none is not None:
                q = float(medians[best_none][-1])
                ref_steps, steps = first_reached(medians[best_none], q), \
                    first_reached(medians[engine], q)
                row["ratio_strict"] = ref_steps / steps if steps else None
            # Against optuna's pruner of the same kind (hyperflow's settings aside).
            peer = "optuna:" + pruner.split("/")[0]
            if side == "hyperflow" and peer in curves:
                # Two-sided Mann-Whitney U over seeds: is regret @ B told apart from optuna's?
                from scipy.stats import mannwhitneyu
                a, b = curves[engine][:, -1], curves[peer][:, -1]
                row["p_vs_optuna"] = float(mannwhitneyu(a, b).pvalue) if np.any(a != b) \
                    else 1.0
            first = [r["trials"][:budget_trials] for r in rs]
            row["fixed_steps"] = float(np.median([sum(t[0] for t in f) for f in first]))
            fixed = []
            for f in first:
                done = [t for t in f if t[2] == 0]
                fixed.append(min(done, key=lambda t: t[3])[4] - optimum if done else np.inf)
            row["fixed_regret"] = float(np.median(fixed))
            rows.append(row)
    return rows


def _fmt(x, digits=3):
    if x is None:
        return "not reached"
    if isinstance(x, float) and math.isinf(x):
        return "none complete"
    return "%.*g" % (digits, x)


def markdown(rows, budget_trials):
    out = ["| problem | engine | seeds | regret @ B | p vs optuna | regret @ B/3 | steps to q "
           "| x fewer | its 90%% interval | x fewer (strict) | trials | pruned "
           "| first %d trials: steps | their regret |" % budget_trials,
           "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
    for r in rows:
        p = r.get("p_vs_optuna")
        interval = r.get("ratio_90")
        out.append("| %s | %s | %d | %s | %s | %s | %s | %s | %s | %s | %d | %d | %d | %s |" % (
            r["problem"], r["engine"], r["seeds"], _fmt(r["regret_B"]),
            "-" if p is None else "%.2f" % p, _fmt(r["regret_B3"]),
            # Without its no-pruning engine in the table a row has no quality to reach.
            _fmt(r["steps_to_q"], 6) if "q" in r else "-", _fmt(r["ratio"], 3) if "q" in r else "-",
            "-" if interval is None else "%.2g-%.2g" % interval,
            _fmt(r["ratio_strict"], 3) if "ratio_strict" in r else "-", r["trials"], r["pruned"],
            r["fixed_steps"],
            _fmt(r["fixed_regret"])))
    return "\n".join(out)


# ----------------------------------------------------------------------------- main
def parse_range(text):
    out = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def load(path):
    runs = []
    if os.path.exists(path):
        with open(path) as fh:
            for line in fh:
                line = line.strip()
                if line:
                    runs.append(json.loads(line))
    return runs


def smoke_check(runs, budget):
    """What a smoke run must show: every run spent its budget exactly and told consistent
    trials; no pruning pruned nothing; asha pruned on both sides and crossed."""
    for r in runs:
        assert r["trials"][-1][1] == budget, (r["engine"], r["trials"][-1])
        assert sum(t[0] for t in r["trials"]) == budget, r["engine"]
        pruned = sum(t[2] == 1 for t in r["trials"])
        if r["engine"].endswith(":none"):
            assert pruned == 0, r["engine"]
        else:
            assert pruned > 0, "%s pruned nothing" % r["engine"]
    print("smoke: %d runs ok" % len(runs))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n", 1)[1])
    ap.add_argument("--problems", default=",".join(P.SUITE))
    ap.add_argument("--engines", default=",".join(ENGINES))
    ap.add_argument("--seeds", default="0-19")
    ap.add_argument("--budget-trials", type=int, default=30)
    ap.add_argument("--algo-name", default="tpe", help="hyperflow's sampler (default tpe)")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--out-dir", default=os.path.join(REPO, "target", "bench", "prune"))
    ap.add_argument("--summary-only", action="store_true")
    ap.add_argument("--smoke", action="store_true")
    a = ap.parse_args(argv)
    if a.smoke:
        a.problems, a.engines, a.seeds = "exp_decay", \
            "hyperflow:none,hyperflow:asha,optuna:none,optuna:asha," \
            "hyperflow+optuna:asha,optuna+hyperflow:asha,hyperflow:asha/reduction_factor=3", \
            "0-1"
        a.budget_trials = 6
    problems = a.problems.split(",")
    engines = a.engines.split(",")
    for p in problems:
        if p not in P.PROBLEMS:
            ap.error("unknown problem %r; expected one of %s" % (p, ", ".join(P.PROBLEMS)))
    for e in engines:
        base, settings = e.split("/", 1) if "/" in e else (e, None)
        if base not in ENGINES + CROSSED:
            ap.error("unknown engine %r; expected SIDE:PRUNER, one of %s" % (
                e, ", ".join(ENGINES + CROSSED)))
        if settings is not None and not base.split(":")[0].endswith("hyperflow"):
            ap.error("engine %r: only hyperflow's pruner takes settings (PRUNER/KEY=VALUE)"
                     % e)
    seeds = parse_range(a.seeds)
    os.makedirs(a.out_dir, exist_ok=True)
    path = os.path.join(a.out_dir, "smoke.jsonl" if a.smoke else "runs.jsonl")
    if a.smoke and os.path.exists(path):
        os.unlink(path)
    runs = load(path)
    done = {(r["problem"], r["engine"], r["seed"], r["budget"]) for r in runs}
    todo = [(p, e, s, a.budget_trials * P.PROBLEMS[p].max_resource)
            for e in engines for s in seeds for p in problems]
    todo = [t for t in todo if t not in done]
    if not a.summary_only and todo:
        if not a.smoke:  # tables and optima once, before the workers (the smoke needs none)
            for p in problems:
                _ = P.PROBLEMS[p].optimum
        print("%d runs to do (%d already in %s)" % (len(todo), len(done), path), flush=True)
        with open(path, "a") as out, cf.ProcessPoolExecutor(a.jobs) as pool:
            futures = {pool.submit(run_one, p, e, s, b, a.algo_name): (p, e, s)
                       for p, e, s, b in todo}
            for n, fut in enumerate(cf.as_completed(futures), start=1):
                rec = fut.result()
                out.write(json.dumps(rec) + "\n")
                out.flush()
                runs.append(rec)
                print("[%d/%d] %s %s seed %d: %d trials, %.1fs" % (
                    n, len(todo), rec["problem"], rec["engine"], rec["seed"],
                    len(rec["trials"]), rec["wall_s"]), flush=True)
    if a.smoke:
        smoke_check(runs, a.budget_trials * P.R)
        return
    wanted = set(seeds)
    rows = summarize([r for r in runs if r["seed"] in wanted], a.budget_trials, engines,
                     problems)
    table = markdown(rows, a.budget_trials)
    with open(os.path.join(a.out_dir, "summary.md"), "w") as fh:
        fh.write(table + "\n")
    with open(os.path.join(a.out_dir, "scores.json"), "w") as fh:
        json.dump(rows, fh, indent=1)
    print(table)


if __name__ == "__main__":
    main()
