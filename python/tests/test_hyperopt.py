"""hyperopt's API with only the import changed: spaces with nested choices, fmin's
result shape, rstate, Trials, space_eval, failures, and tracking into a store."""

from __future__ import annotations

import math
import sqlite3
from functools import partial

import numpy as np
import pytest

from hyperflow import STATUS_FAIL, STATUS_OK, AllTrialsFailed, Trials, fmin, hp, rand, space_eval, tpe
from hyperflow.pyll import scope

SPACE = {
    "lr": hp.loguniform("lr", math.log(1e-4), math.log(1.0)),
    "model": hp.choice(
        "model",
        [
            {
                "type": "svm",
                "C": hp.loguniform("C", math.log(1e-2), math.log(1e2)),
                "kernel": hp.choice("kernel", ["rbf", "linear"]),
            },
            {
                "type": "tree",
                "depth": hp.randint("depth", 1, 20),
                "leaf": scope.int(hp.quniform("leaf", 1, 10, 1)),
            },
        ],
    ),
    "layers": [hp.uniform("dropout", 0.0, 0.5), hp.normal("shift", 0.0, 1.0)],
}


def objective(p):
    """Best near lr = 0.01, an svm with C = 10 and the rbf kernel, dropout 0.2, shift 0."""
    m = p["model"]
    dropout, shift = p["layers"]
    loss = (math.log10(p["lr"]) + 2) ** 2 + (dropout - 0.2) ** 2 + 0.1 * shift**2
    if m["type"] == "svm":
        loss += (math.log10(m["C"]) - 1) ** 2 + (0.0 if m["kernel"] == "rbf" else 0.5)
    else:
        assert isinstance(m["leaf"], int)
        loss += 1.0 + abs(m["depth"] - 7) / 10
    return {"loss": loss, "status": STATUS_OK, "accuracy": 1 / (1 + loss)}


def search(algo, seed, max_evals=150):
    trials = Trials()
    best = fmin(objective, SPACE, algo=algo, max_evals=max_evals, trials=trials,
                rstate=np.random.default_rng(seed), show_progressbar=False)
    return best, trials


def test_nested_choice_finds_a_good_point_and_concentrates_unlike_random_search():
    for seed in range(3):
        tpe_losses = search(tpe.suggest, seed)[1].losses()
        rand_losses = search(rand.suggest, seed)[1].losses()
        # The right branch (svm, rbf: the others cost 0.5 or 1 more) near its optimum.
        assert min(tpe_losses) < 0.4, (seed, min(tpe_losses))
        # TPE's last 50 trials sample where the loss is low; random search's do not.
        tpe_late, rand_late = np.median(tpe_losses[-50:]), np.median(rand_losses[-50:])
        assert tpe_late < 1.5 < 2.0 < rand_late, (seed, tpe_late, rand_late)


def test_result_has_hyperopts_shape_and_space_eval_gives_values():
    best, trials = search(tpe.suggest, 1)
    # Indices for choices, only the labels active under the chosen options.
    assert best["model"] in (0, 1) and isinstance(best["model"], int)
    if best["model"] == 0:
        assert set(best) == {"lr", "model", "C", "kernel", "dropout", "shift"}
    else:
        assert set(best) == {"lr", "model", "depth", "leaf", "dropout", "shift"}
    point = space_eval(SPACE, best)
    assert point["model"]["type"] == ("svm", "tree")[best["model"]]
    assert objective(point)["loss"] == pytest.approx(min(trials.losses()))
    assert best == trials.argmin
    assert trials.best_trial["result"]["loss"] == min(trials.losses())


def test_rstate_makes_searches_reproducible():
    a, ta = search(tpe.suggest, 7, max_evals=40)
    b, tb = search(tpe.suggest, 7, max_evals=40)
    c, tc = search(tpe.suggest, 8, max_evals=40)
    assert a == b and ta.losses() == tb.losses()
    assert ta.losses() != tc.losses()


def test_trials_hold_what_hyperopt_users_read():
    _, trials = search(tpe.suggest, 2, max_evals=30)
    assert len(trials) == 30 and len(trials.trials) == 30
    assert trials.tids == list(range(30))
    assert trials.statuses() == [STATUS_OK] * 30
    assert len(trials.results) == 30 and all("accuracy" in r for r in trials.results)
    first = trials.trials[0]
    assert first["tid"] == 0 and first["state"] == 2
    vals, idxs = first["misc"]["vals"], first["misc"]["idxs"]
    labels = {"lr", "model", "C", "kernel", "depth", "leaf", "dropout", "shift"}
    assert set(vals) == labels and set(idxs) == labels
    # Inactive labels have empty lists, active ones the trial's value and id.
    chosen = vals["model"][0]
    inactive = {"depth", "leaf"} if chosen == 0 else {"C", "kernel"}
    assert all(vals[label] == [] and idxs[label] == [] for label in inactive)
    assert all(len(vals[label]) == 1 and idxs[label] == [0] for label in labels - inactive)


def test_bounds_follow_hyperopt():
    space = {
        "lr": hp.loguniform("lr", math.log(1e-3), math.log(1.0)),
        "q": hp.qloguniform("q", math.log(1), math.log(100), 1),
        "r0": hp.randint("r0", 5),
        "r1": hp.randint("r1", 10, 13),
        "u": hp.uniformint("u", 1, 3),
        "ln": hp.lognormal("ln", 0.0, 1.0),
    }
    trials = Trials()
    fmin(lambda p: 0.0, space, algo=rand.suggest, max_evals=200, trials=trials, rstate=np.random.default_rng(0))
    vals = trials.vals
    assert 1e-3 <= min(vals["lr"]) and max(vals["lr"]) <= 1.0
    assert all(1 <= v <= 100 and v == round(v) for v in vals["q"])
    assert set(vals["r0"]) == {0, 1, 2, 3, 4}  # upper bound exclusive
    assert set(vals["r1"]) == {10, 11, 12}
    assert set(vals["u"]) == {1, 2, 3}  # uniformint includes both bounds
    assert min(vals["ln"]) > 0
    with pytest.raises(ValueError, match=r"lr: bounds \(0, 1000\) are in log space.*math.log\(a\)"):
        hp.loguniform("lr", 0, 1000)


def test_failed_trials_and_exceptions():
    def sometimes_fails(p):
        if p["x"] > 0.5:
            return {"status": STATUS_FAIL}
        return p["x"]

    trials = Trials()
    fmin(sometimes_fails, {"x": hp.uniform("x", 0, 1)}, algo=tpe.suggest, max_evals=30,
         trials=trials, rstate=np.random.default_rng(3))
    statuses = trials.statuses()
    assert STATUS_FAIL in statuses and STATUS_OK in statuses
    assert all((loss is None) == (s == STATUS_FAIL) for loss, s in zip(trials.losses(), statuses, strict=True))

    def raises(p):
        raise RuntimeError("boom")

    trials = Trials()
    with pytest.raises(RuntimeError, match="boom"):
        fmin(raises, {"x": hp.uniform("x", 0, 1)}, max_evals=5, trials=trials)
    assert len(trials) == 1 and "boom" in trials.trials[0]["misc"]["error"]


def test_a_nan_loss_is_never_the_best():
    # The first trial's NaN would win a plain min(); hyperopt passes over NaN, and the
    # engine records the trial failed.
    calls = []

    def nan_first(p):
        calls.append(p["x"])
        return float("nan") if len(calls) == 1 else p["x"]

    trials = Trials()
    best = fmin(nan_first, {"x": hp.uniform("x", 0, 1)}, max_evals=10, trials=trials,
                rstate=np.random.default_rng(1))
    assert best["x"] == min(calls[1:])
    assert trials.best_trial["tid"] != 0
    assert trials._study.trials[0]["state"] == "failed"
    with pytest.raises(AllTrialsFailed, match=r"no trial succeeded \(3 returned a NaN or infinite loss\)"):
        fmin(lambda p: float("nan"), {"x": hp.uniform("x", 0, 1)}, max_evals=3)


def test_trials_continue_and_partial_tpe():
    trials = Trials()
    algo = partial(tpe.suggest, n_startup_jobs=5)
    space = {"x": hp.uniform("x", -1, 1)}
    fmin(lambda p: p["x"] ** 2, space, algo=algo, max_evals=10, trials=trials, rstate=np.random.default_rng(0))
    fmin(lambda p: p["x"] ** 2, space, algo=algo, max_evals=25, trials=trials, rstate=np.random.default_rng(0))
    assert trials.tids == list(range(25))
    with pytest.raises(ValueError, match="these Trials hold a search over another space"):
        fmin(lambda p: p["y"], {"y": hp.uniform("y", 5, 6)}, max_evals=30, trials=trials)


def test_space_errors_are_value_errors_with_the_engines_message():
    with pytest.raises(ValueError, match="low < high"):
        fmin(lambda p: 0.0, {"x": hp.uniform("x", 1, 0)}, max_evals=1)
    with pytest.raises(ValueError, match="duplicate label 'x'"):
        fmin(lambda p: 0.0, [hp.uniform("x", 0, 1), hp.normal("x", 0, 1)], max_evals=1)


def test_experiment_logs_a_parent_and_a_child_run_per_trial(tmp_path):
    db = tmp_path / "hyperflow.db"
    fmin(objective, SPACE, algo=tpe.suggest, max_evals=12, rstate=np.random.default_rng(0),
         experiment="hyperopt-compat", tracking_uri=f"sqlite:///{db}")
    con = sqlite3.connect(db)
    roles = dict(con.execute(
        "SELECT value, count(*) FROM tags WHERE key = 'hyperflow.role' GROUP BY value").fetchall())
    assert roles.get("trial") == 12
    statuses = con.execute("SELECT status, count(*) FROM runs GROUP BY status").fetchall()
    assert dict(statuses) == {"FINISHED": 13}
    accuracy = con.execute("SELECT count(*) FROM latest_metrics WHERE key = 'accuracy'").fetchone()
    assert accuracy == (12,)


def test_a_tracked_search_records_why_it_stopped_and_ctrl_c_kills_the_running_trial(tmp_path):
    uri = f"sqlite:///{tmp_path / 'hyperflow.db'}"
    space = {"x": hp.uniform("x", 0, 1)}

    def interrupted_at_the_third(p, calls=[]):
        calls.append(p)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return p["x"]

    with pytest.raises(KeyboardInterrupt):
        fmin(interrupted_at_the_third, space, max_evals=10, experiment="stops",
             tracking_uri=uri, study_name="interrupted")
    fmin(lambda p: p["x"], space, max_evals=10, loss_threshold=2.0, experiment="stops",
         tracking_uri=uri, study_name="threshold")
    con = sqlite3.connect(tmp_path / "hyperflow.db")

    def parent(name):
        return con.execute(
            "SELECT r.status, s.value FROM runs r JOIN tags n ON n.run_key = r.run_key "
            "AND n.key = 'hyperflow.study' AND n.value = ? JOIN tags s ON s.run_key = r.run_key "
            "AND s.key = 'hyperflow.stop_reason'", (name,)).fetchone()

    assert parent("interrupted") == ("KILLED", "cancelled")
    assert parent("threshold") == ("FINISHED", "loss threshold reached")
    states = con.execute(
        "SELECT value, count(*) FROM tags WHERE key = 'hyperflow.state' GROUP BY value").fetchall()
    # Two complete trials and the interrupted one killed (none left RUNNING), then one.
    assert dict(states) == {"COMPLETE": 3, "KILLED": 1}


def test_a_named_search_continued_by_a_new_fmin_counts_and_ranks_its_stored_trials(tmp_path):
    uri = f"sqlite:///{tmp_path / 'hyperflow.db'}"
    space = {"x": hp.uniform("x", -1, 1), "kind": hp.choice("kind", ["a", "b"])}

    def f(p):
        return {"loss": p["x"] ** 2 + (p["kind"] == "b"), "status": STATUS_OK, "n": np.int64(3)}

    first = Trials()
    fmin(f, space, max_evals=8, trials=first, experiment="continued", tracking_uri=uri,
         study_name="s", rstate=np.random.default_rng(2))
    later = Trials()
    best = fmin(f, space, max_evals=12, trials=later, experiment="continued", tracking_uri=uri,
                study_name="s", rstate=np.random.default_rng(2))
    assert later.tids == list(range(12)), "8 stored trials and 4 new ones"
    assert later.trials[3]["misc"]["vals"] == first.trials[3]["misc"]["vals"]
    assert min(later.losses()) == later.best_trial["result"]["loss"]
    assert best == later.argmin
    # numpy numbers in a result are metrics too.
    assert later.trials[0]["result"]["n"] == 3.0
