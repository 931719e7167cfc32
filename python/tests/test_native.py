"""The native API: spaces in hyperflow's schema, studies with ask and tell, samplers,
pruning, errors, and the same trials as the Rust engine for the same seed."""

from __future__ import annotations

import json
import subprocess
import threading

import numpy as np
import pytest

import hyperflow
from hyperflow import Space, Study

from conftest import ROOT, built

SPACE = {
    "lr": {"kind": "loguniform", "low": 1e-5, "high": 1e-1},
    "model": {
        "kind": "choice",
        "options": [
            {"value": "svm", "space": {"C": {"kind": "loguniform", "low": 1e-2, "high": 1e3}}},
            {"value": "tree", "space": {"min_leaf": {"kind": "randint", "low": 1, "high": 20}}},
        ],
    },
    "n_estimators": 100,
}


def test_space_from_dict_toml_and_json_are_one_space():
    toml = Space.from_toml(ROOT / "examples" / "space.toml")
    json_space = Space.from_json(ROOT / "examples" / "space.json")
    assert toml.names == json_space.names
    assert json.loads(toml.to_json()) == json.loads(json_space.to_json())
    assert Space(json.loads(json_space.to_json())).names == json_space.names
    params = {p["name"]: p for p in toml.params()}
    assert params["C"]["parent"] == "model" and params["C"]["active_under"] == "svm"
    assert params["lr"]["log"] is True


def test_bad_spaces_raise_value_errors_with_the_engines_message():
    with pytest.raises(ValueError, match="unknown kind `logunifrom`.*did you mean `loguniform`"):
        Space({"x": {"kind": "logunifrom", "low": 1, "high": 2}})
    with pytest.raises(ValueError, match="must be positive"):
        Space({"x": {"kind": "loguniform", "low": 0, "high": 2}})
    with pytest.raises(ValueError, match="unknown algorithm"):
        Study(Space(SPACE), sampler="anneal")
    with pytest.raises(ValueError, match="unknown pruner"):
        Study(Space(SPACE), pruner="sometimes")
    with pytest.raises(ValueError, match="a space's numbers must be finite: it holds a NaN"):
        Space({"x": {"kind": "uniform", "low": float("nan"), "high": 1}})
    with pytest.raises(TypeError, match="a space holds numbers, .* not object"):
        Space({"x": {"kind": "uniform", "low": 0, "high": object()}})
    with pytest.raises(ValueError, match="wider than a float can span"):
        Space({"x": {"kind": "uniform", "low": -1e308, "high": 1e308}})
    # numpy's numbers are numbers.
    numpy_bounds = Space({"x": {"kind": "uniform", "low": np.float32(0), "high": np.int64(3)}})
    assert json.loads(numpy_bounds.to_json())["x"]["high"] == 3


def test_ask_and_tell():
    study = Study(Space(SPACE), sampler="tpe", seed=3)
    for n in range(30):
        trial = study.ask()
        assert trial.number == n
        p = trial.params
        assert p["n_estimators"] == 100
        assert ("C" in p) == (p["model"] == "svm") and ("min_leaf" in p) == (p["model"] == "tree")
        if n == 4:
            recorded = study.tell(trial, state="failed", reason="diverged")
            assert recorded["state"] == "failed" and recorded["error"] == "diverged"
        else:
            recorded = study.tell(trial, (p["lr"] - 0.01) ** 2, metrics=[("acc", 0.5)])
            assert recorded["state"] == "complete" and recorded["metrics"] == {"acc": 0.5}
    assert len(study) == 30
    assert study.best_value == min(t["value"] for t in study.trials if t["state"] == "complete")
    with pytest.raises(ValueError, match="trial 0 is complete already"):
        study.tell(0, 1.0)
    with pytest.raises(ValueError, match="no trial 99"):
        study.tell(99, 1.0)


def test_enqueued_points_come_first_and_are_checked():
    study = Study(Space(SPACE), seed=1)
    study.enqueue({"lr": 0.001, "model": "tree", "min_leaf": 3, "n_estimators": 100})
    assert study.ask().params == {"lr": 0.001, "model": "tree", "min_leaf": 3, "n_estimators": 100}
    with pytest.raises(ValueError, match="min_leaf"):
        study.enqueue({"lr": 0.001, "model": "tree", "min_leaf": 30, "n_estimators": 100})


@pytest.mark.parametrize("sampler", ["auto", "tpe", "gp", "random"])
def test_every_sampler_is_reproducible(sampler):
    def run():
        study = Study(Space({"x": {"kind": "uniform", "low": -2, "high": 2},
                             "k": {"kind": "randint", "low": 0, "high": 4}}), sampler=sampler, seed=5)
        for _ in range(15):
            t = study.ask()
            study.tell(t, t.params["x"] ** 2 + t.params["k"])
        return [t["params"] for t in study.trials]

    assert run() == run()


def test_grid_search_enumerates_and_then_is_exhausted():
    study = Study(Space({"k": {"kind": "choice", "options": ["a", "b", "c"]}}), sampler="grid", seed=1)
    seen = set()
    for _ in range(3):
        t = study.ask()
        seen.add(t.params["k"])
        study.tell(t, 0.0)
    assert seen == {"a", "b", "c"}


def test_median_pruner_stops_trials_below_the_median():
    study = Study(Space({"lr": {"kind": "uniform", "low": 0, "high": 1}}), sampler="random",
                  pruner="median", seed=2)
    pruned = 0
    for _ in range(30):
        trial = study.ask()
        lr = trial.params["lr"]
        for step in range(10):
            if trial.report(step, lr * (10 - step)):
                assert trial.should_prune()
                study.tell(trial, state="pruned")
                pruned += 1
                break
        else:
            study.tell(trial, lr)
    assert study.pruner == "median"
    assert pruned > 5
    pruned_trials = [t for t in study.trials if t["state"] == "pruned"]
    # A pruned trial keeps its last reported value and step.
    t = pruned_trials[0]
    assert t["value"] == study.intermediate_values(t["number"])[-1][1]
    assert t["last_step"] == study.intermediate_values(t["number"])[-1][0]
    # The pruner stopped the worse trials: their rates are above the complete ones' median.
    complete = sorted(t["params"]["lr"] for t in study.trials if t["state"] == "complete")
    assert min(t["params"]["lr"] for t in pruned_trials) > complete[0]


def test_pruner_settings_are_a_sweeps_pruner_table():
    space = Space({"x": {"kind": "uniform", "low": 0, "high": 1}})

    def stopped_at(pruner, values):
        """The step at which the study's pruner stops a trial reporting `values`."""
        study = Study(space, sampler="random", pruner=pruner, seed=1)
        trial = study.ask()
        for step, value in enumerate(values):
            if trial.report(step, value):
                return step
        return None

    # Outside the bound, but not judged during the warm-up.
    assert stopped_at({"kind": "threshold", "upper": 0.5, "warmup_steps": 2}, [0.9] * 5) == 2
    assert stopped_at({"kind": "threshold", "upper": 0.5}, [0.9] * 5) == 0
    assert stopped_at("threshold", [0.9] * 5) is None  # no bounds: only NaN is stopped
    # With patience, only once the last 3 + 1 values are all worse than the best before.
    patient = {"kind": "threshold", "upper": 0.5, "patience": 3}
    assert stopped_at(patient, [0.9, 0.8, 0.7, 0.6, 0.65, 0.7, 0.7, 0.7, 0.7]) == 7
    assert stopped_at(patient, [0.9, 0.8, 0.7, 0.6, 0.55, 0.54, 0.6, 0.6]) is None
    assert Study(space, pruner={"kind": "hyperband", "brackets": "separate"}).pruner == "hyperband"


def test_bad_pruner_settings_say_what_is_taken():
    space = Space({"x": {"kind": "uniform", "low": 0, "high": 1}})
    with pytest.raises(ValueError, match="`reduction_factor` = 1 is not valid: expected an integer >= 2"):
        Study(space, pruner={"kind": "asha", "reduction_factor": 1})
    with pytest.raises(ValueError, match='kind "asha" has no setting `brackets`; it takes `min_resource`'):
        Study(space, pruner={"kind": "asha", "brackets": "shared"})
    with pytest.raises(ValueError, match="did you mean `reduction_factor`"):
        Study(space, pruner={"kind": "asha", "reduction_factr": 3})
    with pytest.raises(ValueError, match="must be a positive integer, found bool True"):
        Study(space, pruner={"kind": "asha", "reduction_factor": True})
    with pytest.raises(ValueError, match=r"found int 1000000000000000000000 \(beyond 64 bits\)"):
        Study(space, pruner={"kind": "median", "startup_trials": 10**21})
    with pytest.raises(ValueError, match="must be an integer >= 0, found float 2.5"):
        Study(space, pruner={"kind": "median", "startup_trials": 2.5})
    with pytest.raises(ValueError, match='no "kind": add one of "none", "median"'):
        Study(space, pruner={"reduction_factor": 3})
    with pytest.raises(ValueError, match='unknown pruner "ahsa"'):
        Study(space, pruner={"kind": "ahsa"})
    with pytest.raises(TypeError, match="pruner must be a name"):
        Study(space, pruner=3)
    with pytest.raises(ValueError, match=r"`upper` = 1.0 is not valid: expected a number above `lower` \(3.0\)"):
        Study(space, pruner={"kind": "threshold", "lower": 3.0, "upper": 1})


def test_reports_must_be_of_a_running_trial_at_a_step_from_0():
    space = Space({"x": {"kind": "uniform", "low": 0, "high": 1}})
    study = Study(space, pruner="median", seed=3)
    trial = study.ask()
    with pytest.raises(ValueError, match="step must be an integer >= 0 .*, got -1"):
        trial.report(-1, 0.5)
    assert trial.report(0, 0.5) is False
    with pytest.warns(UserWarning, match="trial 0 reported step 0 already: this value .0.25. is ignored"):
        trial.report(0, 0.25)
    study.tell(trial, state="pruned")
    with pytest.raises(ValueError, match="trial 0 is pruned already; only running trials can report"):
        trial.report(1, 0.4)
    assert study.intermediate_values(0) == [(0, 0.5)]


def test_bad_arguments_say_which_and_what_is_taken():
    space = Space({"x": {"kind": "uniform", "low": 0, "high": 1}})
    for kwargs, name in [({"seed": -1}, "seed"), ({"max_evals": -5}, "max_evals"),
                         ({"sampler": "tpe", "n_startup": -1}, "n_startup")]:
        with pytest.raises(ValueError, match=f"^{name} must be an integer >= 0, got -"):
            Study(space, **kwargs)
    with pytest.raises(ValueError, match="^seed must be an integer <= 18446744073709551615, got 18446744073709551616"):
        Study(space, seed=2**64)
    study = Study(space, seed=1)
    with pytest.raises(ValueError, match="^budget must be an integer >= 0, got -1"):
        study.ask(budget=-1)
    trial = study.ask()
    # A bool is no value, though Python counts True as 1.
    for flag in (True, np.True_):
        with pytest.raises(TypeError, match="a trial's value must be a number, not bool"):
            study.tell(trial, flag)
        with pytest.raises(TypeError, match="a reported value must be a number, not bool"):
            trial.report(0, flag)
    with pytest.raises(ValueError, match="a failed trial has no value, got 0.5"):
        study.tell(trial, 0.5, state="failed")
    with pytest.raises(ValueError, match='unknown trial state "pruend".*did you mean "pruned"'):
        study.tell(trial, state="pruend")
    with pytest.raises(ValueError, match='a trial is told "complete", "failed" or "pruned", not "running"'):
        study.tell(trial, state="running")
    with pytest.raises(ValueError, match="^the trial number must be an integer >= 0, got -1"):
        study.tell(-1, 0.5)
    with pytest.raises(TypeError, match="tell takes a Trial from ask.. or a trial number, not str '0'"):
        study.tell("0", 0.5)
    # optuna's spelling of the states, in any case, is taken; nothing above was recorded.
    assert study.tell(trial, state="FAIL")["state"] == "failed"
    assert [t["state"] for t in study.trials] == ["failed"]
    with pytest.raises(ValueError, match="the study has no trial 7: its trials are numbered 0 to 0"):
        study.intermediate_values(7)
    # A numpy bool in a point is a bool, not the float 1.0.
    flags = Study(Space({"flag": {"kind": "choice", "options": [False, True]}}), seed=1)
    flags.enqueue({"flag": np.True_})
    assert flags.ask().params == {"flag": True}


def test_tracked_study_is_continued_by_name(tmp_path):
    uri = f"sqlite:///{tmp_path / 'h.db'}"
    space = Space({"x": {"kind": "uniform", "low": 0, "high": 1}})
    for expected in (0, 5):
        study = Study(space, seed=1, experiment="native", tracking_uri=uri, name="s1")
        numbers = []
        for _ in range(5):
            t = study.ask()
            assert t.run_id is not None
            numbers.append(t.number)
            study.tell(t, t.params["x"])
        study.finish()
        assert numbers == list(range(expected, expected + 5))
        assert study.parent_run_id is not None
    with pytest.raises(hyperflow.TrackingError):
        Study(space, experiment="x", tracking_uri="nosuchscheme://here")


def test_threads_ask_while_another_thread_runs():
    # Each study in its own thread, the GIL released while the engine works: both finish.
    results = {}

    def run(seed):
        study = Study(Space({"x": {"kind": "uniform", "low": 0, "high": 1}}), sampler="tpe", seed=seed)
        for _ in range(200):
            t = study.ask()
            study.tell(t, t.params["x"])
        results[seed] = study.best_value

    threads = [threading.Thread(target=run, args=(s,)) for s in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(results) == {1, 2} and all(v < 0.01 for v in results.values())


@pytest.mark.parametrize("algo", ["tpe", "random", "auto"])
def test_same_seed_same_trials_as_the_rust_engine(algo):
    engine = subprocess.Popen(
        [str(built("examples/stdio_engine")), "--space", str(ROOT / "examples" / "space.json"),
         "--algo", algo, "--seed", "11"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    study = Study(Space.from_json(ROOT / "examples" / "space.json"), sampler=algo, seed=11)
    try:
        for n in range(40):
            asked = json.loads(engine.stdout.readline())
            trial = study.ask()
            assert asked["number"] == trial.number == n
            assert asked["point"] == trial.params
            loss = (trial.params["lr"] * 100 - 1) ** 2 + trial.params["max_depth"] / 16
            study.tell(trial, loss)
            engine.stdin.write(f"{json.dumps(loss)}\n")
            engine.stdin.flush()
    finally:
        engine.stdin.close()
        engine.wait()


def test_suggest_from_a_history_matches_a_study_that_ran_it():
    space = Space({"x": {"kind": "uniform", "low": -1, "high": 1}})
    study = Study(space, sampler="tpe", seed=4)
    history = []
    for _ in range(25):
        t = study.ask()
        study.tell(t, t.params["x"] ** 2)
        history.append(({"x": t.params["x"]}, "complete", t.params["x"] ** 2, None))
    assert hyperflow.suggest(space, history, 4, sampler="tpe") == study.ask().params
    # A bad entry is named.
    bad = history[:3] + [({"y": 0.5}, "complete", 0.2, None)]
    with pytest.raises(ValueError, match=r"^history\[3\]: .*`y`"):
        hyperflow.suggest(space, bad, 4)
    bad = history[:2] + [({"x": 0.5}, "pruned", 0.2, -1)]
    with pytest.raises(ValueError, match=r"^history\[2\]: last_step must be an integer >= 0, got -1"):
        hyperflow.suggest(space, bad, 4)


def test_threads_share_one_study():
    study = Study(Space({"x": {"kind": "uniform", "low": 0, "high": 1}}), sampler="tpe", seed=9)

    def worker():
        for _ in range(25):
            t = study.ask()
            study.tell(t, t.params["x"])

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    trials = study.trials
    assert [t["number"] for t in trials] == list(range(100))
    assert all(t["state"] == "complete" for t in trials)


def test_a_long_trial_is_judged_against_trials_another_worker_ended_after_a_sync(tmp_path):
    uri = f"sqlite:///{tmp_path / 'long.db'}"
    space = Space({"x": {"kind": "uniform", "low": 0, "high": 1}})

    def worker():
        return Study(space, seed=1, pruner={"kind": "asha", "min_resource": 1},
                     experiment="long", tracking_uri=uri, join_key="k")

    late, early = worker(), worker()
    trial = late.ask()
    for _ in range(8):
        other = early.ask()
        if any(other.report(step, 1.0 / step) for step in range(1, 5)):
            early.tell(other, state="pruned")
        else:
            early.tell(other, 0.25)
    assert late.sync() > 0
    assert trial.report(1, 10.0), "ten times worse at the first rung than the other worker's trials"
    late.tell(trial, state="pruned")
    early.finish()
    late.finish()


def test_a_tracked_study_records_its_pruner_and_the_settings_given(tmp_path):
    import sqlite3

    db = tmp_path / "pruned.db"
    space = Space({"x": {"kind": "uniform", "low": 0, "high": 1}})
    study = Study(space, seed=1, pruner={"kind": "asha", "reduction_factor": 3, "patience": 2},
                  experiment="recorded", tracking_uri=f"sqlite:///{db}")
    parent = study.parent_run_id
    study.finish()
    params = dict(sqlite3.connect(db).execute(
        "SELECT p.key, p.value FROM params p JOIN runs r ON r.run_key = p.run_key "
        "WHERE r.run_id = ? AND p.key LIKE 'pruner%'", (parent,)).fetchall())
    assert params == {"pruner": "asha", "pruner.reduction_factor": "3", "pruner.patience": "2"}


def test_a_report_whose_step_is_no_integer_says_which_comes_first():
    study = Study(Space({"x": {"kind": "uniform", "low": 0, "high": 1}}), seed=1)
    trial = study.ask()
    for step in (0.37, True, "3"):
        with pytest.raises(TypeError, match=r"report\(step, value\): step must be an integer >= 0.*optuna"):
            trial.report(step, 5)
    with pytest.raises(ValueError, match="step must be an integer >= 0 .*, got -1"):
        trial.report(-1, 1.0)
    assert trial.report(2, 0.5) is False


def test_a_trial_is_told_only_to_the_study_that_asked_it():
    space = Space({"x": {"kind": "uniform", "low": 0, "high": 1}})
    one, other = Study(space, seed=1), Study(space, seed=2)
    a, b = one.ask(), other.ask()
    with pytest.raises(ValueError, match="trial 0 was asked of another study"):
        other.tell(a, 0.5)
    assert other.tell(b, 0.25)["state"] == "complete"
    assert one.tell(a, 0.5)["state"] == "complete"


def test_a_worker_with_another_pruner_is_refused_a_running_search(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mixed.db'}"
    space = Space({"x": {"kind": "uniform", "low": 0, "high": 1}})

    def worker(pruner):
        return Study(space, seed=1, pruner=pruner, experiment="mixed", tracking_uri=uri, join_key="k")

    creator = worker("asha")
    with pytest.raises(ValueError, match="prunes with `asha`, this worker with `median`"):
        worker("median")
    worker({"kind": "asha", "reduction_factor": 3}).finish()
    creator.finish()


def _join_worker(uri: str, seed: int, barrier, results) -> None:
    """One worker process of a joined search: joins it, waits for the others to have
    joined too, then asks until the shared budget is spent."""
    study = Study(Space({"x": {"kind": "uniform", "low": 0, "high": 1}}), sampler="tpe", seed=seed,
                  experiment="joined", tracking_uri=uri, join_key="k")
    barrier.wait()
    numbers = []
    while (trial := study.ask(budget=30)) is not None:
        numbers.append(trial.number)
        study.tell(trial, trial.params["x"])
    study.finish()
    results.put((study.parent_run_id, numbers))


def test_processes_join_one_search_and_share_its_budget(tmp_path):
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    uri = f"sqlite:///{tmp_path / 'joined.db'}"
    barrier, results = context.Barrier(3), context.Queue()
    workers = [context.Process(target=_join_worker, args=(uri, 1, barrier, results)) for _ in range(3)]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join()
    assert len({parent for parent, _ in outcomes}) == 1
    assert sorted(n for _, numbers in outcomes for n in numbers) == list(range(30))
