"""Shared helpers: where the repository's built programs are, and whether a test that
needs one may skip (CI sets HYPERFLOW_REQUIRE_EXTERNAL=1: then it fails instead)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def built(name: str) -> Path:
    """A release program of the repository (``target/release/...``, or under
    ``CARGO_TARGET_DIR``); skips the test when it is not built, fails in CI."""
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    path = target / "release" / name
    if not path.exists():
        message = f"{path} is not built (cargo build --release --example stdio_engine)"
        if os.environ.get("HYPERFLOW_REQUIRE_EXTERNAL") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(autouse=True)
def _in_a_temporary_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tracked studies keep artifacts under the working directory
    (``./hyperflow-artifacts``, as MLflow's ``./mlruns``): each test runs in its own
    temporary directory, so none writes into the checkout."""
    monkeypatch.chdir(tmp_path)
