"""A training script written for MLflow's official client, tuned by `hyperflow sweep`.

Nothing in it knows about hyperflow but the last line it prints: the sweep hands every
trial MLFLOW_TRACKING_URI (its store, served on a loopback port) and MLFLOW_RUN_ID (the
trial's run), so `mlflow.start_run()` attaches to the trial's run and everything logged
here lands next to what the sweep logs. Run alone, it logs a run of its own.

Ridge regression by gradient descent on a generated data set (standard library + mlflow).
"""

import argparse
import json
import os
import random
import tempfile

import mlflow


def data(n, seed):
    rng = random.Random(seed)
    w = [1.5, -2.0, 0.5, 3.0]
    rows = []
    for _ in range(n):
        x = [rng.uniform(-1, 1) for _ in w]
        y = sum(a * b for a, b in zip(w, x)) + rng.gauss(0, 0.3)
        rows.append((x, y))
    return rows


def mse(w, rows):
    return sum((sum(a * b for a, b in zip(w, x)) - y) ** 2 for x, y in rows) / len(rows)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float, required=True)
    parser.add_argument("--l2", type=float, required=True)
    parser.add_argument("--epochs", type=int, default=8)
    args = parser.parse_args()

    train, val = data(200, seed=1), data(100, seed=2)
    with mlflow.start_run():
        mlflow.log_params({"lr": args.lr, "l2": args.l2, "epochs": args.epochs})
        mlflow.set_tags({"model": "ridge", "data": "synthetic-4d"})
        w = [0.0] * 4
        for epoch in range(1, args.epochs + 1):
            grad = [0.0] * 4
            for x, y in train:
                err = sum(a * b for a, b in zip(w, x)) - y
                for i, xi in enumerate(x):
                    grad[i] += 2 * err * xi / len(train)
            w = [wi - args.lr * (g + 2 * args.l2 * wi) for wi, g in zip(w, grad)]
            mlflow.log_metrics(
                {"train_mse": mse(w, train), "val_mse": mse(w, val)}, step=epoch
            )
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "weights.json")
            with open(path, "w") as f:
                json.dump({"weights": w}, f)
            mlflow.log_artifact(path, artifact_path="model")
        # The sweep's objective: hyperflow reads this line.
        print(json.dumps({"val_loss": mse(w, val)}))


if __name__ == "__main__":
    main()
