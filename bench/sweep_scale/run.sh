#!/bin/sh
# A sweep of many trivial trials against `xargs -P 2` running the same program, in one run.
#
#   cargo build --release
#   nice bench/sweep_scale/run.sh                  # 20,000 trials
#   nice bench/sweep_scale/run.sh 100000           # any count (at least 4,000)
#   bench/sweep_scale/run.sh 20000 path/to/hyperflow
#
# The program is `echo hyperflow: metric=loss value={x}`; the sweep is `algo = "random"`,
# `parallel = 2`, tracked into a fresh SQLite store with the defaults of `[command]`. It
# prints a Markdown table: total wall time and time per trial of both, the sweep's time
# per trial over its first 2,000 and its last 2,000 trials (from its runs' start and end
# times in the store), and the sweep's peak memory (maximum resident set size, from
# /usr/bin/time). Targets (issue 18): last 2,000 within 10% of the first 2,000; total at
# most 1.7 x xargs; peak at most 40 MB at 20,000 trials (64 MB at 100,000). It also prints
# the spread between all the run's windows of 2,000 trials (how far two windows of a flat
# run lie apart on this machine) and the trend of a line fitted through them.
# Needs /usr/bin/time (GNU time) and python3 (its sqlite3 module reads the store).
set -eu

n=${1:-20000}
bin=${2:-target/release/hyperflow}
window=2000
if [ "$n" -lt $((2 * window)) ]; then
    echo "usage: $0 [TRIALS >= $((2 * window))] [HYPERFLOW]" >&2
    exit 2
fi
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

cat > "$dir/sweep.toml" <<TOML
[experiment]
name = "sweep-scale"

[command]
run = "echo hyperflow: metric=loss value={x}"

[objective]
metric = "loss"

[search]
algo = "random"
max_evals = $n
parallel = 2
seed = 1

[space]
x = { kind = "uniform", low = 0, high = 1 }
TOML

now() { date +%s.%N; }

started=$(now)
seq "$n" | xargs -P 2 -I{} echo hyperflow: metric=loss value={} > /dev/null
xargs_s=$(echo "$(now) - $started" | bc)

started=$(now)
/usr/bin/time -f %M -o "$dir/peak_kb" \
    "$bin" --tracking-uri "sqlite:///$dir/runs.db" sweep "$dir/sweep.toml" --no-progress > /dev/null
sweep_s=$(echo "$(now) - $started" | bc)

python3 - "$dir/runs.db" "$n" "$window" "$xargs_s" "$sweep_s" "$(cat "$dir/peak_kb")" <<'PY'
import sqlite3, sys

db, n, window = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
xargs_s, sweep_s, peak_kb = float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
rows = sqlite3.connect(db).execute(
    "SELECT CAST(t.value AS INTEGER), r.start_time, r.end_time FROM runs r "
    "JOIN tags t ON t.run_key = r.run_key AND t.key = 'hyperflow.trial' "
    "WHERE r.status = 'FINISHED' ORDER BY 1"
).fetchall()
assert len(rows) == n, f"{len(rows)} finished trials in the store, expected {n}"


def per_trial_ms(part):
    # Wall time from the first start to the last end, over the trials of the part.
    return (max(r[2] for r in part) - min(r[1] for r in part)) / len(part)


first, last = per_trial_ms(rows[:window]), per_trial_ms(rows[-window:])
ms = lambda s: s * 1e3 / n
print(f"| run ({n:,} trials, parallel 2) | total | ms per trial | first {window:,} | last {window:,} | peak memory |")
print("|---|---:|---:|---:|---:|---:|")
print(f"| `xargs -P 2` | {xargs_s:.1f} s | {ms(xargs_s):.2f} | | | |")
print(
    f"| `hyperflow sweep` | {sweep_s:.1f} s | {ms(sweep_s):.2f} | {first:.2f} ms | {last:.2f} ms "
    f"| {peak_kb / 1024:.1f} MB |"
)
print(
    f"\nlast/first {last / first:.3f} (target <= 1.10); sweep/xargs {sweep_s / xargs_s:.2f} "
    f"(target <= 1.70); peak {peak_kb / 1024:.1f} MB"
)
# How far apart any two windows of the same run are (the machine's noise), and the trend:
# a least-squares line through the windows' times, its change from the first window's
# centre to the last's, relative to the mean.
windows = [per_trial_ms(rows[i : i + window]) for i in range(0, n - window + 1, window)]
mean = sum(windows) / len(windows)
xs = range(len(windows))
x_mean = (len(windows) - 1) / 2
slope = sum((x - x_mean) * (w - mean) for x, w in zip(xs, windows)) / sum(
    (x - x_mean) ** 2 for x in xs
)
print(
    f"{len(windows)} windows of {window:,}: {min(windows):.2f} to {max(windows):.2f} ms "
    f"(max/min {max(windows) / min(windows):.3f}); fitted trend first to last window "
    f"{slope * (len(windows) - 1) / mean:+.1%}"
)
PY
