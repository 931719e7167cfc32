#!/usr/bin/env python3
"""The broad benchmark: hyperflow and its peers on COCO's BBOB functions and on a suite of
our own (conditional, ordinal, mixed, many-discrete and noisy problems).

Set up:  bash bench/setup.sh        (venv ~/.cache/hyperflow/bench-venv with the pinned
                                     peers and coco-experiment; builds the stdio engine)
Run:     ~/.cache/hyperflow/bench-venv/bin/python bench/run.py [options]

Examples
  run.py --check                                     plumbing: spaces, translations, optima
  run.py --split report --jobs 2                     everything (hours on 2 cores)
  run.py --functions 1,8,15 --dims 2,5 --instances 1-2 --problems deceptive_branch \\
         --seeds 0-4 --engines hyperflow_tpe,random  a quick look
  run.py --summary-only                              re-score what the results file holds

What runs
  Problems × engines × seeds/instances. Each run goes once to its largest budget and keeps
  every evaluation; smaller budgets are read off the same run (no engine here changes its
  proposals with the budget).
  BBOB: the 24 noiseless functions of COCO's `bbob` suite (coco-experiment, C core, offline)
    in the dimensions of --dims, instances of --instances; the space is [-5, 5]^d as
    uniform parameters x0..x{d-1}; budgets --budget-factors × d evaluations (default 20·d and
    100·d). An engine's seed on a BBOB problem is the instance number.
  Suite (bench/problems.py): deceptive_branch, nested3, many_options, ordinal, mixed,
    tabular_a, tabular_b, noisy_hartmann6, noisy_mixed; budgets --suite-budgets; one run
    per seed of --seeds. Every problem is one hyperflow space (JSON) plus its objective; the
    peers get the same space translated (optuna suggest_* with conditionals, hyperopt hp.*
    with nested choices).

Splits (defaults for choosing defaults are kept apart from those reported)
  --split tune     BBOB instances 6-10, suite seeds 100-119: for choosing defaults
  --split report   BBOB instances 1-5, suite seeds 0-19: for the numbers reported
  --instances / --seeds override the split's (the record keeps what was used).

Engines (--engines, comma list; default: all below)
  hyperflow_<ALGO>  hyperflow's examples/stdio_engine --algo ALGO, any name
                    hyperflow::algo::by_name knows (tpe, random, grid, gp, auto, ...)
  optuna_tpe        optuna 5.0.0 default TPESampler(seed) (multivariate)
  optuna_gp         optuna 5.0.0 GPSampler(seed), defaults (torch, scipy)
  rustuna_tpe       rustuna 0.2.0 TPESampler(seed)
  hyperopt_tpe      hyperopt 0.3.0 tpe.suggest, defaults
  random            independent uniform sampling (numpy, seeded)

Cost control
  --jobs N               runs in N worker processes (each single-threaded)
  --cap ENGINE=EVALS     an engine runs only to the largest budget <= EVALS (repeatable;
                         default optuna_gp=%(gp_cap)d, since its time per suggestion grows
                         to seconds); budgets above the cap are reported as capped in the
                         summary, never silently dropped
  Results are appended, one JSON line per run, to OUT_DIR/<split>.jsonl as runs finish; a
  run already there (same split, problem, engine, seed, at least the budget) is not run again,
  so an interrupted run resumes. --rerun-failed retries runs that recorded an error.

Outputs (OUT_DIR, default target/bench/broad under the repository)
  <split>.jsonl          raw runs: every observed value (and noise-free value, and the
                         points of suite problems), wall time, optimizer time
  <split>-summary.md     the tables (scores defined in bench/scoring.py)
  <split>-scores.json    the same numbers, machine-readable
"""
import argparse
import concurrent.futures as cf
import datetime as _dt
import json
import os
import platform
import sys
import time

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import engines as E  # noqa: E402
import problems as P  # noqa: E402
import scoring as S  # noqa: E402

SPLITS = {"tune": {"instances": list(range(6, 11)), "seeds": list(range(100, 120))},
          "report": {"instances": list(range(1, 6)), "seeds": list(range(0, 20))}}
DEFAULT_ENGINES = ["hyperflow_tpe", "hyperflow_random", "optuna_tpe", "optuna_gp",
                   "rustuna_tpe", "hyperopt_tpe", "random"]
DEFAULT_CAPS = {"optuna_gp": 100}
# rough relative cost per evaluation at a few hundred trials, to start slow runs first
_COST = {"optuna_gp": 50.0, "optuna_tpe": 3.0, "hyperopt_tpe": 2.0, "rustuna_tpe": 0.5,
         "random": 0.05}


def int_list(text):
    """'1-5', '1,3,8', '20' (a count for --seeds only is not accepted: write 0-19)."""
    out = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part:
            a, b = part.split("-", 1)
            out.extend(range(int(a), int(b) + 1))
        else:
            out.append(int(part))
    return out


def name_list(text):
    return [t.strip() for t in text.split(",") if t.strip()]


def parse_args(argv):
    ap = argparse.ArgumentParser(
        description=__doc__ % {"gp_cap": DEFAULT_CAPS["optuna_gp"]},
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", choices=sorted(SPLITS), default="report",
                    help="which instances and seeds (default report)")
    ap.add_argument("--engines", type=name_list, default=DEFAULT_ENGINES,
                    help="comma list (default %s)" % ",".join(DEFAULT_ENGINES))
    ap.add_argument("--families", type=name_list, default=["bbob", "suite"],
                    help="bbob, suite or both (default both)")
    ap.add_argument("--functions", type=int_list, default=P.BBOB_FUNCTIONS,
                    help="BBOB function numbers, e.g. 1-24 or 1,8,15 (default 1-24)")
    ap.add_argument("--dims", type=int_list, default=P.BBOB_DIMS,
                    help="BBOB dimensions (default 2,5,10,20)")
    ap.add_argument("--instances", type=int_list, default=None,
                    help="BBOB instances (default: the split's)")
    ap.add_argument("--budget-factors", type=int_list, default=[20, 100],
                    help="BBOB budgets as multiples of d (default 20,100)")
    ap.add_argument("--problems", type=name_list, default=P.SUITE_NAMES,
                    help="suite problems (default all: %s)" % ",".join(P.SUITE_NAMES))
    ap.add_argument("--seeds", type=int_list, default=None,
                    help="suite seeds (default: the split's)")
    ap.add_argument("--suite-budgets", type=int_list, default=[30, 100],
                    help="suite budgets (default 30,100)")
    ap.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    ap.add_argument("--cap", action="append", default=[], metavar="ENGINE=EVALS",
                    help="run ENGINE only up to EVALS evaluations (default optuna_gp=%d; "
                         "ENGINE=none lifts it)" % DEFAULT_CAPS["optuna_gp"])
    ap.add_argument("--stdio-engine", default=E.DEFAULT_STDIO_ENGINE,
                    help="path of hyperflow's stdio engine (default %(default)s)")
    ap.add_argument("--out-dir", default=os.path.join(E.REPO, "target", "bench", "broad"),
                    help="where results and summaries go (default %(default)s)")
    ap.add_argument("--summary-only", action="store_true",
                    help="run nothing; score the selection from the results file")
    ap.add_argument("--rerun-failed", action="store_true",
                    help="run again the runs that recorded an error")
    ap.add_argument("--dry-run", action="store_true", help="list what would run, run nothing")
    ap.add_argument("--check", action="store_true",
                    help="check the plumbing: suite optima, translations, engines (a few "
                         "evaluations each), BBOB f_opt; then exit")
    a = ap.parse_args(argv)
    for e in a.engines:
        try:
            E.check_engine_name(e)
        except E.EngineError as err:
            ap.error("--engines: %s" % err)
    for fam in a.families:
        if fam not in ("bbob", "suite"):
            ap.error("--families: unknown %r; expected bbob and/or suite" % fam)
    for p in a.problems:
        if p not in P.SUITE_NAMES:
            ap.error("--problems: unknown %r; known: %s" % (p, ", ".join(P.SUITE_NAMES)))
    for f in a.functions:
        if f not in P.BBOB_FUNCTIONS:
            ap.error("--functions: %d is not a BBOB function (1-24)" % f)
    caps = dict(DEFAULT_CAPS)
    for c in a.cap:
        if "=" not in c:
            ap.error("--cap %r: expected ENGINE=EVALS, e.g. optuna_gp=200" % c)
        eng, v = c.split("=", 1)
        if v.strip().lower() == "none":
            caps.pop(eng.strip(), None)
        else:
            try:
                caps[eng.strip()] = int(v)
            except ValueError:
                ap.error("--cap %r: EVALS must be an integer or none" % c)
    a.caps = caps
    a.instances = a.instances or SPLITS[a.split]["instances"]
    a.seeds = a.seeds if a.seeds is not None else SPLITS[a.split]["seeds"]
    if a.jobs < 1:
        ap.error("--jobs must be at least 1")
    return a


# ----------------------------------------------------------------------------- tasks
def run_key(split, problem, engine, seed):
    return "%s|%s|%s|%d" % (split, problem, engine, seed)


def plan(a):
    """Every (problem, engine, seed) of the selection with its budgets: [(task, budgets)]."""
    cases = []
    if "bbob" in a.families:
        for d in a.dims:
            budgets = sorted(f * d for f in a.budget_factors)
            for f in a.functions:
                for i in a.instances:
                    cases.append(({"family": "bbob", "function": f, "dim": d, "instance": i,
                                   "problem": "bbob_f%02d_d%d_i%d" % (f, d, i), "seed": i},
                                  budgets))
    if "suite" in a.families:
        for name in a.problems:
            for s in a.seeds:
                cases.append(({"family": "suite", "problem": name, "seed": s},
                              sorted(a.suite_budgets)))
    out = []
    for case, budgets in cases:
        for eng in a.engines:
            cap = a.caps.get(eng)
            allowed = [b for b in budgets if cap is None or b <= cap]
            out.append((dict(case, engine=eng, budget=max(allowed) if allowed else 0,
                             budgets=budgets, capped=[b for b in budgets if b not in allowed]),
                        budgets))
    return out


_PROBLEMS = {}


def make_problem(task):
    key = task["problem"]
    if key not in _PROBLEMS:
        if task["family"] == "bbob":
            _PROBLEMS[key] = P.BbobProblem(task["function"], task["dim"], task["instance"])
        else:
            _PROBLEMS[key] = P.suite_problem(task["problem"])
    return _PROBLEMS[key]


def execute(task, stdio_engine):
    """One run (in a worker process): the record to append to the results file."""
    rec = {k: task[k] for k in ("split", "family", "problem", "engine", "seed", "budget")}
    for k in ("function", "dim", "instance"):
        if k in task:
            rec[k] = task[k]
    t0 = time.time()
    try:
        problem = make_problem(task)
        rec["f_opt"] = problem.f_opt
        r, wall = E.run_engine(task["engine"], problem, task["seed"], task["budget"],
                               stdio_engine, keep_points=task["family"] == "suite")
        rec["observed"] = r.observed
        if getattr(problem, "noise", 0):
            rec["true"] = r.true
        if r.points:
            rec["points"] = r.points
        rec["wall_s"] = wall
        rec["optimizer_s"] = max(0.0, wall - r.objective_s)
    except Exception as e:  # recorded, reported in the summary, retried by --rerun-failed
        rec["error"] = "%s: %s" % (type(e).__name__, e)
        rec["wall_s"] = time.time() - t0
    rec["finished"] = _dt.datetime.now().isoformat(timespec="seconds")
    return rec


def load_results(path):
    done = {}
    if os.path.exists(path):
        with open(path) as fh:
            for n, line in enumerate(fh, 1):
                line = line.strip()
                if not line:
                    continue
                try:
                    r = json.loads(line)
                except json.JSONDecodeError:
                    # a line cut short by an interrupted run: that run is simply run again
                    print("bench: %s:%d: unreadable line ignored" % (path, n), file=sys.stderr)
                    continue
                k = run_key(r["split"], r["problem"], r["engine"], r["seed"])
                old = done.get(k)
                if old is None or "error" in old or ("error" not in r and r["budget"] >= old["budget"]):
                    done[k] = r
    return done


def run_tasks(a, tasks, results_path, done):
    todo, capped = [], 0
    for t, _ in tasks:
        if t["budget"] == 0:
            capped += 1
            continue
        old = done.get(run_key(a.split, t["problem"], t["engine"], t["seed"]))
        if old is not None and old["budget"] >= t["budget"] and ("error" not in old or not a.rerun_failed):
            continue
        todo.append(dict(t, split=a.split))
    todo.sort(key=lambda t: -t["budget"] * _COST.get(t["engine"], 1.0))
    print("bench: %d runs to do, %d already in %s, %d above an engine's cap"
          % (len(todo), len(tasks) - len(todo) - capped, results_path, capped), flush=True)
    if a.dry_run or not todo:
        for t in todo[:50] if a.dry_run else []:
            print("  %s %s seed %d budget %d" % (t["problem"], t["engine"], t["seed"], t["budget"]))
        return
    for eng in sorted({t["engine"] for t in todo}):
        E.check_engine_available(eng, a.stdio_engine)
    os.makedirs(os.path.dirname(results_path), exist_ok=True)
    t_start, n_done, n_err = time.time(), 0, 0
    with open(results_path, "a") as out, cf.ProcessPoolExecutor(max_workers=a.jobs) as pool:
        futs = [pool.submit(execute, t, a.stdio_engine) for t in todo]
        for fut in cf.as_completed(futs):
            rec = fut.result()
            out.write(json.dumps(rec) + "\n")
            out.flush()
            done[run_key(rec["split"], rec["problem"], rec["engine"], rec["seed"])] = rec
            n_done += 1
            if "error" in rec:
                n_err += 1
                print("bench: FAILED %s %s seed %d: %s" % (rec["problem"], rec["engine"],
                                                          rec["seed"], rec["error"]), flush=True)
            if n_done % 50 == 0 or n_done == len(todo):
                el = time.time() - t_start
                print("bench: %d/%d runs (%d failed), %.0f s, load %s" % (
                    n_done, len(todo), n_err, el, " ".join("%.2f" % x for x in os.getloadavg())),
                    flush=True)


# ----------------------------------------------------------------------------- summary
def _fmt(x, digits=3):
    if x is None or x != x:
        return "-"
    if x == 0:
        return "0"
    if abs(x) >= 1e4 or abs(x) < 1e-3:
        return "%.2e" % x
    return ("%." + str(digits) + "g") % x


def summarize(a, tasks, done):
    scores = {"split": a.split, "generated": _dt.datetime.now().isoformat(timespec="seconds"),
              "machine": "%s, %d cores" % (platform.platform(), os.cpu_count() or 0),
              "bbob": {}, "suite": {}, "failed": [], "capped": [], "missing": [],
              "time_s": {}}
    engines = a.engines
    lines = ["# Broad benchmark: split `%s`" % a.split, ""]
    by_key = {}
    for t, budgets in tasks:
        r = done.get(run_key(a.split, t["problem"], t["engine"], t["seed"]))
        for b in t["capped"]:
            scores["capped"].append([t["problem"], t["engine"], t["seed"], b])
        if t["budget"] == 0:
            continue
        if r is None:
            scores["missing"].append([t["problem"], t["engine"], t["seed"]])
            continue
        if "error" in r:
            scores["failed"].append([t["problem"], t["engine"], t["seed"], r["error"]])
            continue
        by_key[(t["problem"], t["engine"], t["seed"])] = (t, r)
        tm = scores["time_s"].setdefault(t["engine"], {"runs": 0, "wall": 0.0, "optimizer": 0.0,
                                                       "evals": 0})
        tm["runs"] += 1
        tm["wall"] += r["wall_s"]
        tm["optimizer"] += r["optimizer_s"]
        tm["evals"] += r["budget"]

    # --- BBOB
    bbob = {}  # (dim, factor, engine) -> list of run scores (function, instance, scores)
    for (prob, eng, seed), (t, r) in by_key.items():
        if t["family"] != "bbob":
            continue
        for fct in a.budget_factors:
            b = fct * t["dim"]
            if b <= r["budget"]:
                bbob.setdefault((t["dim"], fct, eng), []).append(
                    (t["function"], S.bbob_run_scores(r["observed"], r["f_opt"], b)))
    if "bbob" in a.families and a.dims:
        expected = len(a.functions) * len(a.instances)
        lines += ["## BBOB (%d functions, instances %s)" % (len(a.functions), _ranges(a.instances)), "",
                  "Mean fraction of the 51 targets f_opt + 10^k (k = 2 ... -8) reached; in "
                  "parentheses, the number of runs when not all %d ran." % expected, ""]
        for metric, title, agg in (("fraction", "fraction of targets reached", S.mean),
                                   ("ecdf_area", "ECDF area (log budget)", S.mean),
                                   ("log_regret", "median log10 regret (floor -8)", S.median)):
            lines += ["### %s" % title, "",
                      "| engine | " + " | ".join("d=%d %d·d" % (d, f) for d in a.dims
                                                 for f in a.budget_factors) + " |",
                      "|---|" + "---:|" * (len(a.dims) * len(a.budget_factors))]
            for eng in engines:
                cells = []
                for d in a.dims:
                    for f in a.budget_factors:
                        runs = bbob.get((d, f, eng), [])
                        v = agg([s[metric] for _, s in runs])
                        scores["bbob"].setdefault(eng, {}).setdefault("d%d" % d, {}).setdefault(
                            "%dd" % f, {})[metric] = v
                        scores["bbob"][eng]["d%d" % d]["%dd" % f]["runs"] = len(runs)
                        cell = _fmt(v)
                        if runs and len(runs) < expected:
                            cell += " (%d)" % len(runs)
                        elif not runs:
                            cell = "cap" if _capped(a, by_key, eng, f * d, dim=d) else "-"
                        cells.append(cell)
                lines.append("| %s | %s |" % (eng, " | ".join(cells)))
            lines.append("")
        # by function group, per budget, over the dimensions where every engine that has
        # runs at that budget has all of them (so no engine is averaged over easier ones)
        for fct in a.budget_factors:
            ran = [e for e in engines if any(bbob.get((d, fct, e)) for d in a.dims)]
            dims = [d for d in a.dims
                    if all(len(bbob.get((d, fct, e), [])) == expected for e in ran)]
            if not dims:
                continue
            lines += ["### fraction of targets at %d·d by function group (d = %s, where every "
                      "engine shown has all its runs)" % (fct, _ranges(dims)), "",
                      "| engine | " + " | ".join(P.BBOB_GROUPS) + " |",
                      "|---|" + "---:|" * len(P.BBOB_GROUPS)]
            for eng in ran:
                cells = []
                for g, fs in P.BBOB_GROUPS.items():
                    xs = [s["fraction"] for d in dims for fn, s in bbob.get((d, fct, eng), [])
                          if fn in fs]
                    cells.append(_fmt(S.mean(xs)))
                    scores["bbob"].setdefault(eng, {}).setdefault("groups", {}).setdefault(
                        "%dd" % fct, {})[g] = S.mean(xs)
                lines.append("| %s | %s |" % (eng, " | ".join(cells)))
            lines.append("")

    # --- suite
    if "suite" in a.families and a.problems:
        suite = {}  # (problem, budget, engine) -> {seed: scores}
        for (prob, eng, seed), (t, r) in by_key.items():
            if t["family"] != "suite":
                continue
            problem = P.suite_problem(prob)
            for b in a.suite_budgets:
                if b <= r["budget"]:
                    suite.setdefault((prob, b, eng), {})[seed] = S.suite_run_scores(r, problem, b)
        lines += ["## Our suite (seeds %s)" % _ranges(a.seeds), ""]
        for b in sorted(a.suite_budgets):
            lines += ["### median regret at %d evaluations" % b, "",
                      "| problem | " + " | ".join(engines) + " |",
                      "|---|" + "---:|" * len(engines)]
            for prob in a.problems:
                cells = []
                for eng in engines:
                    runs = suite.get((prob, b, eng), {})
                    v = S.median([s["regret"] for s in runs.values()])
                    scores["suite"].setdefault(prob, {}).setdefault(str(b), {})[eng] = {
                        "median_regret": v, "runs": len(runs)}
                    cell = _fmt(v)
                    if runs and len(runs) < len(a.seeds):
                        cell += " (%d)" % len(runs)
                    elif not runs:
                        cell = "cap" if _capped(a, by_key, eng, b, problem=prob) else "-"
                    cells.append(cell)
                lines.append("| %s | %s |" % (prob, " | ".join(cells)))
            lines.append("")
            regrets = {eng: {(prob, seed): s["regret"]
                             for prob in a.problems
                             for seed, s in suite.get((prob, b, eng), {}).items()}
                       for eng in engines}
            wr = S.win_rates({e: v for e, v in regrets.items() if v})
            lines += ["Win rate at %d evaluations (over problems × seeds × other engines, ties "
                      "half): " % b + ", ".join("%s %s" % (e, _fmt(wr.get(e))) for e in engines), ""]
            scores.setdefault("suite_win_rate", {})[str(b)] = wr
            if "deceptive_branch" in a.problems:
                cells = []
                for eng in engines:
                    runs = suite.get(("deceptive_branch", b, eng), {})
                    wrong = [s["branch"] == "wrong" for s in runs.values()]
                    rate = S.mean([1.0 if w else 0.0 for w in wrong])
                    scores.setdefault("wrong_branch_rate", {}).setdefault(str(b), {})[eng] = rate
                    cells.append("%s %s" % (eng, "%d/%d" % (sum(wrong), len(wrong)) if wrong else "-"))
                lines += ["Wrong-branch rate on deceptive_branch at %d evaluations (best trial "
                          "in the wrong branch): " % b + ", ".join(cells), ""]
        lines += ["Problems:", ""]
        for prob in a.problems:
            lines.append("- `%s`: %s" % (prob, P.suite_problem(prob).about))
        lines.append("")

    # --- time, caps, failures
    lines += ["## Time", "", "| engine | runs | evaluations | wall s (sum over runs) | optimizer ms / evaluation |",
              "|---|---:|---:|---:|---:|"]
    for eng in engines:
        tm = scores["time_s"].get(eng)
        if tm:
            lines.append("| %s | %d | %d | %.0f | %.3g |" % (
                eng, tm["runs"], tm["evals"], tm["wall"], 1000 * tm["optimizer"] / max(1, tm["evals"])))
    lines.append("")
    caps = {e: c for e, c in a.caps.items() if e in engines}
    if caps:
        lines += ["Caps: " + ", ".join("%s runs only to %d evaluations" % kv for kv in caps.items())
                  + "; %d (run, budget) pairs above a cap are marked `cap`." % len(scores["capped"]), ""]
    if scores["missing"]:
        lines += ["Not run yet: %d runs (cells with a count in parentheses)." % len(scores["missing"]), ""]
    if scores["failed"]:
        lines += ["Failed: %d runs:" % len(scores["failed"]), ""]
        lines += ["- %s %s seed %d: %s" % tuple(f) for f in scores["failed"][:20]]
        lines.append("")
    return "\n".join(lines), scores


def _capped(a, by_key, eng, budget, dim=None, problem=None):
    """Whether `eng` has no score at `budget` because of a cap: the cap is below it now, or
    the runs there were made under a lower cap (they stop short of it)."""
    if a.caps.get(eng, float("inf")) < budget:
        return True
    return any(r["budget"] < budget for (p, e, _), (t, r) in by_key.items()
               if e == eng and (problem is None or p == problem)
               and (dim is None or t.get("dim") == dim))


def _ranges(xs):
    xs = sorted(xs)
    if xs and xs == list(range(xs[0], xs[-1] + 1)):
        return "%d-%d" % (xs[0], xs[-1]) if len(xs) > 1 else str(xs[0])
    return ",".join(map(str, xs))


# ----------------------------------------------------------------------------- check
def check(a):
    import numpy as np
    ok = True
    opt = P.known_optimum_points()
    for name in P.SUITE_NAMES:
        prob = P.suite_problem(name)
        y, truth = prob.evaluate(opt[name], np.random.default_rng(0))
        good = abs(truth - prob.f_opt) <= 1e-6 * (1 + abs(prob.f_opt))
        # no random point may beat the known optimum
        rng = np.random.default_rng(1)
        worse = min(prob.evaluate(E.random_point(prob.space, rng), rng)[1] for _ in range(2000))
        good = good and worse >= prob.f_opt - 1e-9
        ok &= good
        print("%-18s f(opt)=%.6g f_opt=%.6g best of 2000 random=%.4g %s"
              % (name, truth, prob.f_opt, worse, "ok" if good else "WRONG"))
    for f in (1, 5, 20, 24):
        prob = P.BbobProblem(f, 2, 1)
        bp = P._call(prob._problem.best_parameter)
        y = prob.evaluate({"x%d" % j: float(v) for j, v in enumerate(bp)})[0]
        good = abs(y - prob.f_opt) < 1e-9
        ok &= good
        print("bbob f%d d2 i1: f(x_opt)=%.6g f_opt=%.6g %s" % (f, y, prob.f_opt, "ok" if good else "WRONG"))
    for eng in a.engines:
        E.check_engine_available(eng, a.stdio_engine)
        for name in P.SUITE_NAMES:
            prob = P.suite_problem(name)
            r, _ = E.run_engine(eng, prob, 0, 12, a.stdio_engine, keep_points=True)
            for pt in r.points:
                prob.evaluate(pt, np.random.default_rng(0))
        print("%-18s ran 12 evaluations of every suite problem: ok" % eng)
    print("check: %s" % ("ok" if ok else "FAILED"))
    return 0 if ok else 1


def main(argv=None):
    a = parse_args(argv)
    if a.check:
        return check(a)
    tasks = plan(a)
    results_path = os.path.join(a.out_dir, "%s.jsonl" % a.split)
    done = load_results(results_path)
    if not a.summary_only:
        t0 = time.time()
        run_tasks(a, tasks, results_path, done)
        print("bench: ran for %.0f s" % (time.time() - t0))
        if a.dry_run:
            return 0
    md, scores = summarize(a, tasks, done)
    os.makedirs(a.out_dir, exist_ok=True)
    with open(os.path.join(a.out_dir, "%s-summary.md" % a.split), "w") as fh:
        fh.write(md + "\n")
    with open(os.path.join(a.out_dir, "%s-scores.json" % a.split), "w") as fh:
        json.dump(scores, fh, indent=1)
    print(md)
    return 1 if scores["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
