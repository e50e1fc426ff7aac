"""What `lab_helpers.kit` exports, module by module: the one list, read at run time by `attach_stub` and by
editors and type checkers as the subpackage's stub."""

from .cli import main as main
from .doctor import REQUIRED as REQUIRED, TEST_ONLY as TEST_ONLY, run_doctor as run_doctor
from .grading import nbgrader_source as nbgrader_source, solution_regions as solution_regions
from .notebooks import (
    CODE_PROMPT as CODE_PROMPT,
    DEFAULT_STUB as DEFAULT_STUB,
    KERNEL_STALL_ERRORS as KERNEL_STALL_ERRORS,
    MARKDOWN_PROMPT as MARKDOWN_PROMPT,
    LabBuildError as LabBuildError,
    build_labs as build_labs,
    dead_widget_outputs as dead_widget_outputs,
    error_outputs as error_outputs,
    execute_notebook as execute_notebook,
    learner_source as learner_source,
    list_labs as list_labs,
    make_learner_notebook as make_learner_notebook,
    reset_lab as reset_lab,
)
from .prepare import prepare_classroom as prepare_classroom
from .present import (
    DASHBOARDS as DASHBOARDS,
    dashboard_path as dashboard_path,
    start_presentation as start_presentation,
)
