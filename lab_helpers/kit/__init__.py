"""The kit's own tooling: the command line, doctor, building labs from solutions, prepare, present."""

from __future__ import annotations

# ruff: noqa: F401 - the names under TYPE_CHECKING are exported lazily through `attach`, not unused

from typing import TYPE_CHECKING

from ..lazy import attach

# module -> the names it exports; each module loads on first use of one of its names (no work on import)
__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "cli": ["main"],
        "doctor": ["REQUIRED", "TEST_ONLY", "run_checks", "run_doctor"],
        "grading": ["nbgrader_source", "solution_regions"],
        "notebooks": [
            "CODE_PROMPT",
            "DEFAULT_STUB",
            "KERNEL_STALL_ERRORS",
            "MARKDOWN_PROMPT",
            "LabBuildError",
            "build_labs",
            "dead_widget_outputs",
            "error_outputs",
            "execute_notebook",
            "learner_source",
            "list_labs",
            "make_learner_notebook",
            "reset_lab",
        ],
        "prepare": ["prepare_classroom"],
        "present": ["DASHBOARDS", "dashboard_path", "start_presentation"],
    },
)

if TYPE_CHECKING:  # for editors and type checkers; at run time the names load lazily, above
    from .cli import main
    from .doctor import REQUIRED, TEST_ONLY, run_checks, run_doctor
    from .grading import nbgrader_source, solution_regions
    from .notebooks import (
        CODE_PROMPT,
        DEFAULT_STUB,
        KERNEL_STALL_ERRORS,
        MARKDOWN_PROMPT,
        LabBuildError,
        build_labs,
        dead_widget_outputs,
        error_outputs,
        execute_notebook,
        learner_source,
        list_labs,
        make_learner_notebook,
        reset_lab,
    )
    from .prepare import prepare_classroom
    from .present import DASHBOARDS, dashboard_path, start_presentation
