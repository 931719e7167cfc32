#!/usr/bin/env python3
"""A training script for `hyperflow sweep`, using only the standard library.

Fits gradient-boosted regression trees (`--model gbt`) or k nearest neighbours
(`--model knn`) to a generated regression data set (Friedman #1 with noise features) and
reports the validation mean squared error:

- while training, one line per 5 boosting rounds:
      hyperflow: metric=val_loss value=12.3 step=10
- at the end, one JSON object with every metric:
      {"val_loss": 4.56, "train_loss": 1.23, "fit_seconds": 0.4}

hyperflow reads both from stdout; the last value of `val_loss` is the trial's result.
Run it by hand: python3 train.py --model gbt --lr 0.1 --max-depth 3
"""

import argparse
import json
import math
import random
import sys
import time


def make_data(n, rng):
    """Friedman #1: y depends on the first 5 of 7 uniform features, plus noise."""
    xs, ys = [], []
    for _ in range(n):
        x = [rng.random() for _ in range(7)]
        y = (10 * math.sin(math.pi * x[0] * x[1]) + 20 * (x[2] - 0.5) ** 2
             + 10 * x[3] + 5 * x[4] + rng.gauss(0, 1))
        xs.append(x)
        ys.append(y)
    return xs, ys


def datasets(n_train):
    """The training and validation sets, the same for every trial: only the params differ."""
    rng = random.Random(0)
    return make_data(n_train, rng), make_data(200, rng)


def mse(pred, ys):
    return sum((p - y) ** 2 for p, y in zip(pred, ys)) / len(ys)


def fit_tree(xs, residuals, rows, depth, max_depth, min_leaf=5):
    """A regression tree on `rows`, as nested tuples: ("leaf", value) or
    ("split", feature, threshold, left, right)."""
    values = [residuals[i] for i in rows]
    mean = sum(values) / len(values)
    if depth >= max_depth or len(rows) < 2 * min_leaf:
        return ("leaf", mean)
    best = None
    total, total_sq, n = sum(values), sum(v * v for v in values), len(values)
    for feature in range(len(xs[0])):
        ordered = sorted(rows, key=lambda i: xs[i][feature])
        left_sum = left_sq = 0.0
        for k, i in enumerate(ordered[:-1], start=1):
            r = residuals[i]
            left_sum += r
            left_sq += r * r
            if k < min_leaf or n - k < min_leaf:
                continue
            if xs[ordered[k - 1]][feature] == xs[ordered[k]][feature]:
                continue
            right_sum, right_sq = total - left_sum, total_sq - left_sq
            sse = (left_sq - left_sum ** 2 / k) + (right_sq - right_sum ** 2 / (n - k))
            if best is None or sse < best[0]:
                threshold = (xs[ordered[k - 1]][feature] + xs[ordered[k]][feature]) / 2
                best = (sse, feature, threshold, ordered[:k], ordered[k:])
    if best is None:
        return ("leaf", mean)
    _, feature, threshold, left, right = best
    return ("split", feature, threshold,
            fit_tree(xs, residuals, left, depth + 1, max_depth, min_leaf),
            fit_tree(xs, residuals, right, depth + 1, max_depth, min_leaf))


def predict_tree(tree, x):
    while tree[0] == "split":
        _, feature, threshold, left, right = tree
        tree = left if x[feature] <= threshold else right
    return tree[1]


def gbt_rounds(lr, max_depth, n_estimators, train, val):
    """Boosts one tree per round; yields (round, train predictions, validation predictions)
    after each round (the pruning benchmark, bench/prune/, reads every round's curve)."""
    (xs, ys), (vx, vy) = train, val
    base = sum(ys) / len(ys)
    pred, vpred = [base] * len(ys), [base] * len(vy)
    for round_ in range(1, n_estimators + 1):
        residuals = [y - p for y, p in zip(ys, pred)]
        tree = fit_tree(xs, residuals, list(range(len(xs))), 0, max_depth)
        pred = [p + lr * predict_tree(tree, x) for p, x in zip(pred, xs)]
        vpred = [p + lr * predict_tree(tree, x) for p, x in zip(vpred, vx)]
        yield round_, pred, vpred


def train_gbt(args, train, val):
    (_, ys), (_, vy) = train, val
    for round_, pred, vpred in gbt_rounds(args.lr, args.max_depth, args.n_estimators,
                                          train, val):
        if round_ % 5 == 0 or round_ == args.n_estimators:
            # flush, so hyperflow sees the value now and not when the buffer fills
            print(f"hyperflow: metric=val_loss value={mse(vpred, vy):.6f} step={round_}",
                  flush=True)
    return mse(pred, ys), mse(vpred, vy)


def train_knn(args, train, val):
    (xs, ys), (vx, vy) = train, val

    def predict(x, exclude=None):
        dists = sorted((sum((a - b) ** 2 for a, b in zip(x, t)), i)
                       for i, t in enumerate(xs) if i != exclude)
        return sum(ys[i] for _, i in dists[:args.k]) / args.k

    train_pred = [predict(x, exclude=i) for i, x in enumerate(xs)]
    return mse(train_pred, ys), mse([predict(x) for x in vx], vy)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["gbt", "knn"], required=True)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--max-depth", type=int, default=3)
    parser.add_argument("--n-estimators", type=int, default=50)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--n-train", type=int, default=300)
    args = parser.parse_args()
    if args.k < 1 or args.max_depth < 1 or args.n_estimators < 1:
        sys.exit("error: --k, --max-depth and --n-estimators must be at least 1")

    train, val = datasets(args.n_train)
    started = time.time()
    fit = train_gbt if args.model == "gbt" else train_knn
    train_loss, val_loss = fit(args, train, val)
    print(json.dumps({"val_loss": val_loss, "train_loss": train_loss,
                      "fit_seconds": round(time.time() - started, 3)}))


if __name__ == "__main__":
    main()
