"""What `lab_helpers.service` exports, module by module: the one list, read at run time by `attach_stub` and by
editors and type checkers as the subpackage's stub."""

from .api import DecisionAPI as DecisionAPI, ExplainingAPI as ExplainingAPI, ModelAPI as ModelAPI, QueryAPI as QueryAPI
from .client import (
    ApiError as ApiError,
    HttpModelAPI as HttpModelAPI,
    post_raw as post_raw,
    run_until_refused as run_until_refused,
    score_matrix as score_matrix,
)
from .server import (
    LAB_KEYS as LAB_KEYS,
    MAX_BODY_BYTES as MAX_BODY_BYTES,
    ModelService as ModelService,
    face_endpoint as face_endpoint,
    lab_models as lab_models,
    patient_endpoint as patient_endpoint,
    run_scenario as run_scenario,
    serve_forever as serve_forever,
    start_server as start_server,
)
from .traffic import (
    Dashboard as Dashboard,
    Gateway as Gateway,
    WatchedAPI as WatchedAPI,
    benign_patterns as benign_patterns,
    camera_frames as camera_frames,
    clinician_user as clinician_user,
    dashboard_user as dashboard_user,
    ordinary_traffic as ordinary_traffic,
    replay as replay,
    role_of as role_of,
    simulate_dashboard as simulate_dashboard,
    vital_monitor_user as vital_monitor_user,
    watch_traffic as watch_traffic,
)
