"""How soon a sweep stops a trial its pruner condemned: the time from the moment a trial
program prints the step line that condemns it to the moment it receives SIGTERM.

A sweep of 40 trials (2 at a time, a threshold pruner with `upper = 1.0`); each trial
prints a step under the bound, then notes the time and prints a step above it, then
sleeps. Its SIGTERM handler appends the time elapsed since the note to a file. Both times
are read from one clock on one machine.

    cargo build --release
    python3 bench/prune/stop_latency.py [target/release/hyperflow]
"""

import os
import statistics
import subprocess
import sys
import tempfile

TRIALS = 40

PROGRAM = """\
import signal, sys, time
out = sys.argv[1]
condemned = None
def on_term(signum, frame):
    with open(out, "a") as f:
        f.write(f"{time.monotonic() - condemned}\\n")
    sys.exit(0)
signal.signal(signal.SIGTERM, on_term)
print("hyperflow: metric=loss value=0.5 step=0", flush=True)
time.sleep(0.05)
condemned = time.monotonic()
print("hyperflow: metric=loss value=5.0 step=1", flush=True)
time.sleep(30)
"""

CONFIG = """\
[experiment]
name = "stop-latency"

[command]
run = "python3 trial.py latencies.txt {{x}}"

[objective]
metric = "loss"

[search]
algo = "random"
max_evals = {trials}
parallel = 2
seed = 1

[pruner]
kind = "threshold"
upper = 1.0

[space]
x = {{ kind = "uniform", low = 0, high = 1 }}
"""


def main():
    binary = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "target/release/hyperflow")
    with tempfile.TemporaryDirectory() as work:
        with open(os.path.join(work, "trial.py"), "w") as f:
            f.write(PROGRAM)
        with open(os.path.join(work, "sweep.toml"), "w") as f:
            f.write(CONFIG.format(trials=TRIALS))
        done = subprocess.run(
            [binary, "--tracking-uri", f"sqlite:///{work}/runs.db", "sweep", "sweep.toml",
             "--no-progress"],
            cwd=work, capture_output=True, text=True,
        )
        with open(os.path.join(work, "latencies.txt")) as f:
            ms = sorted(float(line) * 1e3 for line in f)
    if len(ms) != TRIALS:
        sys.exit(f"{len(ms)} of {TRIALS} trials got SIGTERM:\n{done.stdout}{done.stderr}")
    p95 = ms[int(0.95 * (len(ms) - 1))]
    print("| trials | median (ms) | 95th percentile (ms) | max (ms) |")
    print("|--:|--:|--:|--:|")
    print(f"| {len(ms)} | {statistics.median(ms):.1f} | {p95:.1f} | {ms[-1]:.1f} |")


if __name__ == "__main__":
    main()
