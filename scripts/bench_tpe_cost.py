#!/usr/bin/env python3
"""TPE time per suggestion, hyperflow beside its peers, in one run on one machine.

    scripts/bench_tpe_cost.py            (from anywhere; about 6 minutes on 2 cores)

Runs, one after the other:
  1. `cargo build --release --example tpe_cost` and the example itself: hyperflow's time of
     `Study::ask` on styblinski_tang5 (5 uniform parameters), the smallest of three medians of
     the 25 suggestions before each history size (the example's own method);
  2. the peers' harness (`run_peers.py --scaling-only`) on the same problem, three times:
     optuna's default TPE (multivariate), optuna's independent TPE, hyperopt's TPE and
     rustuna's TPE, each figure the smallest of the three runs' medians of the same window.

and prints one Markdown table, engines by history size (100, 500, 1000, 2000; 10,000 for
hyperflow alone), with hyperflow's speed-up over optuna's default TPE.

Environment:
  HPO_VENV        the peers' venv (default $HOME/.cache/hyperflow-peers/hpo-venv, as
                  setup-hpo.sh); created or brought to the pinned versions by setup-hpo.sh,
                  which installs from PyPI.
  HPO_BENCH_DIR   the peers' harness (run_peers.py, setup-hpo.sh); default ../shared/bench
                  beside the main checkout of this repository.
  CARGO_TARGET_DIR  honoured as cargo does.

Raw outputs go to target/bench/tpe_cost/: hyperflow.md (the example's table, with the
conditional space too), peers-N.json / peers-N.md (each peers' run, every trial's overhead),
table.md (the table printed at the end).
"""
import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: History sizes of the table; the peers stop at PEER_SIZES, hyperflow goes on.
PEER_SIZES = [100, 500, 1000, 2000]
SIZES = PEER_SIZES + [10000]
#: Peer runs; the figure is their smallest median, as the example takes its smallest of three.
REPEATS = 3
#: The row of the example's table that is the peers' problem (styblinski_tang5).
HYPERFLOW_ROW = "styblinski"
#: (harness name, row label), in table order; the first is what the speed-up is measured against.
PEERS = [
    ("optuna_tpe", "optuna TPE (multivariate, default)"),
    ("optuna_tpe_uni", "optuna TPE (independent)"),
    ("hyperopt_tpe", "hyperopt TPE"),
    ("rustuna_tpe", "rustuna TPE (multivariate, default)"),
]


class BenchError(Exception):
    """A missing tool or file, or a step that failed: said to the user, then exit 1."""


def main():
    argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    ).parse_args()
    try:
        run()
    except BenchError as e:
        sys.exit("bench_tpe_cost: error: %s" % e)


def run():
    t_start = time.monotonic()
    load_start = os.getloadavg()
    # cargo runs in ROOT, where a relative CARGO_TARGET_DIR starts.
    target = os.path.join(ROOT, os.environ.get("CARGO_TARGET_DIR") or "target")
    out_dir = os.path.join(target, "bench", "tpe_cost")
    os.makedirs(out_dir, exist_ok=True)
    bench_dir = harness_dir()
    venv_python = peers_venv(bench_dir)
    versions = peer_versions(venv_python)

    hyperflow = hyperflow_times(target, out_dir)
    load_mid = os.getloadavg()
    peers = peer_times(venv_python, bench_dir, out_dir)
    load_end = os.getloadavg()

    elapsed = time.monotonic() - t_start
    lines = table(hyperflow, peers) + [""] + notes(
        [load_start, load_mid, load_end], elapsed, versions
    )
    publish(lines, out_dir, "hyperflow.md, peers-N.json, peers-N.md, table.md")


def publish(lines, out_dir, raw):
    """Writes the table's `lines` to OUT_DIR/table.md and prints them, with where the raw
    outputs (`raw`, a list of file names) are."""
    with open(os.path.join(out_dir, "table.md"), "w") as fh:
        fh.write("\n".join(lines) + "\n")
    print()
    print("\n".join(lines))
    print()
    print("raw outputs: %s/ (%s)" % (rel(out_dir), raw))


def harness_dir():
    """The peers' harness: $HPO_BENCH_DIR, else ../shared/bench beside the main checkout
    (found through git, so that a worktree finds it too)."""
    bench_dir = os.environ.get("HPO_BENCH_DIR")
    if not bench_dir:
        checkout = ROOT
        common = git("rev-parse", "--path-format=absolute", "--git-common-dir")
        if common:
            checkout = os.path.dirname(common)
        bench_dir = os.path.join(os.path.dirname(checkout), "shared", "bench")
    missing = [
        f
        for f in ("run_peers.py", "setup-hpo.sh", "suite.json")
        if not os.path.isfile(os.path.join(bench_dir, f))
    ]
    if missing:
        raise BenchError(
            "the peers' benchmark harness is not at %s (missing %s); set HPO_BENCH_DIR to the "
            "folder holding run_peers.py, setup-hpo.sh and suite.json"
            % (bench_dir, ", ".join(missing))
        )
    return os.path.abspath(bench_dir)


def git(*args):
    """Output of a git command in the repository, or None outside git."""
    try:
        done = subprocess.run(
            ["git", "-C", ROOT, *args], capture_output=True, text=True, check=False
        )
    except FileNotFoundError:
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def peers_venv(bench_dir):
    """Creates the peers' venv, or brings it to the pinned versions, with setup-hpo.sh (a
    no-op when it is ready); returns its python."""
    venv = os.environ.get("HPO_VENV") or os.path.join(
        os.path.expanduser("~"), ".cache", "hyperflow-peers", "hpo-venv"
    )
    print("== peers' venv %s (setup-hpo.sh)" % venv, file=sys.stderr, flush=True)
    step(["bash", os.path.join(bench_dir, "setup-hpo.sh"), venv],
         "setting up the peers' venv (it needs python3 with venv and access to PyPI)",
         capture=True)
    return os.path.join(venv, "bin", "python")


def peer_versions(python):
    """'hyperopt 0.3.0, optuna 5.0.0, ...' as installed in the peers' venv."""
    code = (
        "import importlib.metadata as m, platform\n"
        "names = ('hyperopt', 'optuna', 'rustuna', 'numpy')\n"
        "print(', '.join(p + ' ' + m.version(p) for p in names) + ', Python '"
        " + platform.python_version())"
    )
    return step([python, "-c", code], "reading the peers' versions", capture=True).strip()


def run_example(name, target, out_dir):
    """Builds and runs the example `name` (no arguments); saves its output to
    OUT_DIR/hyperflow.md and returns (output, that path)."""
    if shutil.which("cargo") is None:
        raise BenchError("cargo is not on PATH; install Rust (https://rustup.rs)")
    print("== hyperflow: cargo build --release --example %s" % name, file=sys.stderr, flush=True)
    step(["cargo", "build", "--release", "--example", name], "building the example", cwd=ROOT)
    exe = os.path.join(target, "release", "examples", name)
    print("== hyperflow: %s" % rel(exe), file=sys.stderr, flush=True)
    t0 = time.monotonic()
    stdout = step([exe], "running the %s example" % name, capture=True)
    raw = os.path.join(out_dir, "hyperflow.md")
    with open(raw, "w") as fh:
        fh.write(stdout)
    print("   done in %.0f s:\n%s" % (time.monotonic() - t0, stdout), file=sys.stderr, flush=True)
    return stdout, raw


def markdown_rows(text):
    """The rows of the Markdown tables in `text`, as lists of stripped cells."""
    return [
        [c.strip() for c in line.strip().strip("|").split("|")]
        for line in text.splitlines()
        if line.startswith("|")
    ]


def hyperflow_times(target, out_dir):
    """Builds and runs the tpe_cost example; returns {history size: seconds}."""
    return parse_example(*run_example("tpe_cost", target, out_dir))


def parse_example(text, where):
    """The example's Markdown table, its styblinski row, as {history size: seconds}."""
    rows = markdown_rows(text)
    header = next((r for r in rows if r[0] == "space"), None)
    row = next((r for r in rows if r[0].startswith(HYPERFLOW_ROW)), None)
    if header is None or row is None or "(µs)" not in row[0]:
        raise BenchError(
            "%s: expected a table with a '| space | ...' header and a '| %s (µs) | ...' row "
            "(the tpe_cost example's output); did its format change?" % (where, HYPERFLOW_ROW)
        )
    try:
        times = {int(n): float(v) * 1e-6 for n, v in zip(header[1:], row[1:])}
    except ValueError as e:
        raise BenchError("%s: a history size or time is not a number (%s)" % (where, e))
    absent = [n for n in SIZES if n not in times]
    if absent:
        raise BenchError(
            "%s: the example reports no figure at %s trials (it has %s)"
            % (where, ", ".join(map(str, absent)), ", ".join(map(str, sorted(times))))
        )
    return times


def peer_times(python, bench_dir, out_dir):
    """Runs the peers' scaling benchmark REPEATS times; returns {peer: {size: seconds}},
    the smallest window median of the runs at each size."""
    names = ",".join(name for name, _ in PEERS)
    best = {}
    for i in range(1, REPEATS + 1):
        out = os.path.join(out_dir, "peers-%d.json" % i)
        cmd = [
            python, os.path.join(bench_dir, "run_peers.py"), "--scaling-only",
            "--scaling-optimizers", names,
            "--scaling-points", ",".join(map(str, PEER_SIZES)),
            "--out", out, "--summary", os.path.join(out_dir, "peers-%d.md" % i),
        ]
        print("== peers, run %d of %d: %s" % (i, REPEATS, names), file=sys.stderr, flush=True)
        step(cmd, "the peers' scaling run", capture=True)
        for name, medians in read_scaling(out).items():
            for n, s in medians.items():
                best.setdefault(name, {})[n] = min(s, best.get(name, {}).get(n, s))
    return best


def read_scaling(path):
    """{peer: {size: seconds}} from one run_peers.py results file."""
    try:
        with open(path) as fh:
            results = json.load(fh)["scaling"]["results"]
        return {
            name: {n: results[name]["window_median_ms"][str(n)] * 1e-3 for n in PEER_SIZES}
            for name, _ in PEERS
        }
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise BenchError(
            "%s: no scaling figure for every peer at %s trials (%s: %s)"
            % (path, PEER_SIZES, type(e).__name__, e)
        )


def step(cmd, what, cwd=None, capture=False):
    """Runs a command (its stderr to the terminal); stops the benchmark if it fails.
    Returns its stdout when captured."""
    try:
        done = subprocess.run(
            cmd, cwd=cwd, stdout=subprocess.PIPE if capture else None, text=True, check=False
        )
    except OSError as e:
        raise BenchError("%s: cannot start %s: %s" % (what, cmd[0], e))
    if done.returncode != 0:
        raise BenchError(
            "%s failed (exit status %d): %s" % (what, done.returncode, " ".join(cmd))
        )
    return done.stdout


def table(hyperflow, peers):
    """The Markdown table: engines by history size, then the speed-up row."""
    reference = PEERS[0][0]
    lines = [
        "| trials in history | " + " | ".join(map(str, SIZES)) + " |",
        "|---|" + "---:|" * len(SIZES),
        row("hyperflow TPE (multivariate, default)", [duration(hyperflow[n]) for n in SIZES]),
    ]
    for name, label in PEERS:
        lines.append(row(label, [duration(peers[name].get(n)) for n in SIZES]))
    lines.append(row(
        "speed-up of hyperflow over optuna (default)",
        [ratio(peers[reference].get(n), hyperflow[n]) for n in SIZES],
    ))
    return lines


def row(label, cells):
    return "| %s | %s |" % (label, " | ".join(cells))


def duration(seconds):
    """3 significant figures, in µs below a millisecond and in ms above; '—' when absent."""
    if seconds is None:
        return "—"
    if seconds < 0.9995e-3:  # what rounds to 1000 µs is 1.00 ms
        return "%s µs" % significant(seconds * 1e6)
    return "%s ms" % significant(seconds * 1e3)


def ratio(slow, fast):
    if slow is None or not fast:
        return "—"
    return "%s×" % significant(slow / fast)


def significant(x):
    """x with 3 significant figures, without an exponent."""
    x = float("%.3g" % x)
    digits = 2 - math.floor(math.log10(abs(x))) if x else 0
    return "%.*f" % (max(0, digits), x)


def notes(loads, elapsed, versions):
    """How the table was measured, and on what machine under what load (a Markdown list)."""
    load = ", ".join("%.2f %.2f %.2f" % l for l in loads)
    return ["- " + note for note in [
        "Time per suggestion on styblinski_tang5 (5 uniform parameters) when the history "
        "holds N trials: the median of the 25 suggestions before N in one sequential search, "
        "the smallest of %d runs. hyperflow: the time of `Study::ask` (tpe_cost example; "
        "`tell` not included). "
        "Peers: the optimizer's time between two objective calls, `tell` and bookkeeping "
        "included (run_peers.py --scaling-only); wall clock for all." % REPEATS,
        "hyperflow %s; %s." % (revision(), versions),
        "Machine: %d CPUs (%s); load average (1, 5, 15 min) at the start, after hyperflow "
        "and at the end: %s. The whole run took %s."
        % (os.cpu_count(), cpu_model(), load, minutes(elapsed)),
    ]]


def revision():
    """The commit measured, marked when the work tree differs from it."""
    commit = git("rev-parse", "--short", "HEAD")
    if commit is None:
        return "(not a git checkout)"
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return "at %s%s" % (commit, " with uncommitted changes" if dirty else "")


def cpu_model():
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "model unknown"


def minutes(seconds):
    return "%d min %02d s" % divmod(round(seconds), 60)


def rel(path):
    return os.path.relpath(path, os.getcwd())


if __name__ == "__main__":
    main()
