"""Every notebook in solutions/ and labs/ runs headless, from a foreign working directory, with no error output."""
from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from lab_helpers.kit import error_outputs, execute_notebook

KIT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted(KIT.glob("solutions/*.ipynb")) + sorted(KIT.glob("labs/*.ipynb"))
CELL_TIMEOUT = 240  # seconds for one cell; a stalled kernel fails here and the test is retried
MAX_PEAK_MB = 1536  # Binder gives 2 GB; a lab stays under 1.5 GB (run time is a budget in benchmarks/, not a test)


@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[f"{p.parent.name}/{p.name}" for p in NOTEBOOKS])
def test_notebook_runs_clean(path: Path, tmp_path: Path, artifacts: Path):
    # each run its own audit logs: lab 06 in labs/ and solutions/ may run at the same time
    run = execute_notebook(path, cwd=tmp_path, cell_timeout=CELL_TIMEOUT, env={"LAB_AUDIT_DIR": str(tmp_path / "audit")})
    out = artifacts / "executed" / path.parent.name / path.name
    out.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(run.notebook, out)
    record = artifacts / "notebook_runs" / f"{path.parent.name}__{path.stem}.json"  # one file each: runs are parallel
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps({"seconds": round(run.seconds, 1), "peak_mb": round(run.peak_mb)}))

    assert error_outputs(run.notebook) == []
    assert run.peak_mb < MAX_PEAK_MB, f"{path.name} peaked at {run.peak_mb:.0f} MB"


def test_there_are_notebooks_to_run():
    assert any(p.parent.name == "solutions" for p in NOTEBOOKS)
    assert any(p.parent.name == "labs" for p in NOTEBOOKS)
