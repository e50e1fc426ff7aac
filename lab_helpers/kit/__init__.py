"""The kit's own tooling: the command line, doctor, building labs from solutions, prepare, present."""

from .cli import main
from .doctor import REQUIRED, TEST_ONLY, run_checks, run_doctor
from .notebooks import (
    CODE_PROMPT,
    DEFAULT_STUB,
    KERNEL_STALL_ERRORS,
    MARKDOWN_PROMPT,
    LabBuildError,
    build_labs,
    error_outputs,
    execute_notebook,
    learner_source,
    list_labs,
    make_learner_notebook,
    reset_lab,
)
from .prepare import prepare_classroom
from .present import DASHBOARDS, dashboard_path, start_presentation

__all__ = [
    "CODE_PROMPT",
    "DASHBOARDS",
    "DEFAULT_STUB",
    "KERNEL_STALL_ERRORS",
    "LabBuildError",
    "MARKDOWN_PROMPT",
    "REQUIRED",
    "TEST_ONLY",
    "build_labs",
    "dashboard_path",
    "error_outputs",
    "execute_notebook",
    "learner_source",
    "list_labs",
    "main",
    "make_learner_notebook",
    "prepare_classroom",
    "reset_lab",
    "run_checks",
    "run_doctor",
    "start_presentation",
]
