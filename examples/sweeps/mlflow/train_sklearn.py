"""A scikit-learn classifier that MLflow's autolog records, as a sweep trial: run by hyperflow
with `--C <value>`, it fits a logistic regression on iris's sepal measurements inside `mlflow.start_run()` with
`mlflow.sklearn.autolog()` on, which logs the estimator's params, its training metrics and the
fitted model (an MLflow 3 logged model carrying those metrics) into the trial's own run. The
last line printed is the sweep's objective.

    cargo run --release --features server -- sweep examples/sweeps/mlflow/sweep_sklearn.toml

Needs `pip install mlflow scikit-learn`."""

import argparse
import json

import mlflow
import mlflow.sklearn
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--C", type=float, required=True, help="inverse regularization strength")
    args = parser.parse_args()

    X, y = load_iris(return_X_y=True)
    X = X[:, :2]  # the sepal measurements only: the classes overlap, so C matters
    X_train, X_val, y_train, y_val = train_test_split(
        X, y, test_size=0.3, random_state=0, stratify=y
    )
    mlflow.sklearn.autolog()
    with mlflow.start_run():
        clf = LogisticRegression(C=args.C, max_iter=500).fit(X_train, y_train)
        val_accuracy = clf.score(X_val, y_val)
    # The sweep's objective: hyperflow reads this line.
    print(json.dumps({"val_error": 1.0 - val_accuracy}))


if __name__ == "__main__":
    main()
