"""Classroom tools: presentation mode with Voilà (a real server on loopback) and `prepare` for an offline room."""
from __future__ import annotations

import urllib.request
from pathlib import Path

import nbformat
import pytest

from lab_helpers.kit import DASHBOARDS, dashboard_path, start_presentation

KIT = Path(__file__).resolve().parent.parent


@pytest.mark.timeout(600)
@pytest.mark.parametrize("lab", sorted(DASHBOARDS))
def test_presentation_serves_the_dashboard_without_a_traceback(lab, artifacts):
    with open(artifacts / f"voila-{lab}.log", "w") as log:
        show = start_presentation(lab, log=log)
        try:
            with urllib.request.urlopen(show.url, timeout=300) as response:
                page = response.read().decode("utf-8", "replace")
                assert response.status == 200
        finally:
            show.stop()
    assert show.process.poll() is not None  # stopped by its own handle
    assert "Traceback" not in page and "Error" not in page.split("</head>")[-1][:200000].replace("error_", "")
    assert "jupyter-widgets" in page or "widget" in page


def test_unknown_dashboard_lists_the_ones_that_exist():
    with pytest.raises(KeyError, match="Dashboards: 03"):
        dashboard_path("99")


@pytest.mark.parametrize("path", sorted(KIT.glob("dashboards/*.ipynb")), ids=lambda p: p.name)
def test_dashboards_are_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    assert all(c.outputs == [] for c in nb.cells if c.cell_type == "code")


def test_prepare_runs_notebooks_and_reports_failures(tmp_path, capsys):
    from lab_helpers.kit import prepare_classroom

    good = tmp_path / "good.ipynb"
    bad = tmp_path / "bad.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1 + 1")]), good)
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 / 0")]), bad)
    assert prepare_classroom([good])
    assert not prepare_classroom([good, bad])
    out = capsys.readouterr().out
    assert "good.ipynb: ok" in out and "bad.ipynb: FAILED" in out and "ZeroDivisionError" in out
