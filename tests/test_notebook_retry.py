"""The retry policy for notebook tests: a stalled kernel is retried, an error in a cell never is."""
from __future__ import annotations

import pytest

TEST_FILE = '''
import nbformat, pytest
from lab_helpers.kit import KERNEL_STALL_ERRORS, execute_notebook

@pytest.mark.flaky(reruns=2, only_rerun=KERNEL_STALL_ERRORS)
def test_run(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell({code!r})])
    path = tmp_path / "n.ipynb"
    nbformat.write(nb, path)
    execute_notebook(path, cwd=tmp_path, cell_timeout=1)
'''


@pytest.mark.parametrize("code, reruns", [
    ("import time; time.sleep(60)", 2),  # a cell that never answers: timed out, retried twice
    ("1 / 0", 0),  # an error in a cell: fails at once, never retried
    ("assert False, 'wrong number'", 0),
])
@pytest.mark.slow
def test_only_a_stalled_kernel_is_retried(pytester, code, reruns):
    pytester.makepyfile(TEST_FILE.format(code=code))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "rerunfailures")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed") == 1 and outcomes.get("rerun", 0) == reruns, outcomes
