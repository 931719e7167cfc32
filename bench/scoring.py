"""Scores of the broad benchmark, computed from the raw runs.

BBOB (as COCO scores its `bbob` suite):
  targets      f_opt + 10^k for 51 values of k log-spaced from 2 down to -8 (step 0.2)
  fraction     the fraction of those targets a run's best-so-far has reached after B
               evaluations; per dimension, the mean over functions and instances
  ECDF area    the area under a run's fraction-of-targets curve over evaluations 1..B on
               a log scale, divided by log(B): 1 means every target at the first evaluation
  log regret   log10(best - f_opt), floored at -8 (the last target); per dimension, the median

Our suite:
  regret       the noise-free value of the trial that looks best (lowest observed value)
               after B evaluations, minus the known optimum; per problem, the median over seeds
  win rate     per engine: over every problem, seed and other engine, the fraction of
               comparisons of regret it wins (ties count half)
  wrong branch for the deceptive-branch problem, the fraction of runs whose best trial (as
               above) is in the wrong branch
"""
import math
import statistics

TARGET_EXPONENTS = [2 - 0.2 * j for j in range(51)]
LOG_REGRET_FLOOR = -8.0


def best_so_far(values):
    out, b = [], math.inf
    for v in values:
        b = min(b, v)
        out.append(b)
    return out


def targets_reached(delta):
    """How many of the 51 targets a best-so-far `delta = f - f_opt` reaches."""
    if delta <= 0:
        return len(TARGET_EXPONENTS)
    # target k is reached when delta <= 10^k, i.e. k >= log10(delta)
    lg = math.log10(delta)
    return sum(1 for k in TARGET_EXPONENTS if lg <= k + 1e-12)


def bbob_run_scores(values, f_opt, budget):
    """fraction of targets, ECDF area and log10 regret of one run after `budget` evaluations."""
    bsf = best_so_far(values[:budget])
    frac = [targets_reached(b - f_opt) / len(TARGET_EXPONENTS) for b in bsf]
    if budget > 1:
        area = sum(frac[n - 1] * (math.log(n + 1) - math.log(n))
                   for n in range(1, budget)) / math.log(budget)
    else:
        area = frac[0]
    delta = bsf[-1] - f_opt
    log_regret = LOG_REGRET_FLOOR if delta <= 10 ** LOG_REGRET_FLOOR else math.log10(delta)
    return {"fraction": frac[-1], "ecdf_area": area, "log_regret": max(log_regret, LOG_REGRET_FLOOR)}


def suite_best_index(observed, budget):
    """Index of the trial that looks best after `budget` evaluations (earliest on ties)."""
    head = observed[:budget]
    return min(range(len(head)), key=lambda i: (head[i], i))


def suite_run_scores(record, problem, budget):
    i = suite_best_index(record["observed"], budget)
    truth = record.get("true") or record["observed"]
    out = {"regret": truth[i] - record["f_opt"]}
    if record.get("points"):
        out["branch"] = problem.branch(record["points"][i])
    return out


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def mean(xs):
    return sum(xs) / len(xs) if xs else float("nan")


def win_rates(regrets):
    """regrets: {engine: {case: regret}} over shared cases -> {engine: win rate}."""
    engines = sorted(regrets)
    out = {}
    for a in engines:
        wins = total = 0.0
        for b in engines:
            if a == b:
                continue
            for case, ra in regrets[a].items():
                rb = regrets[b].get(case)
                if rb is None:
                    continue
                tol = 1e-12 * max(1.0, abs(ra), abs(rb))
                wins += 1.0 if ra < rb - tol else 0.5 if abs(ra - rb) <= tol else 0.0
                total += 1
        out[a] = wins / total if total else float("nan")
    return out
