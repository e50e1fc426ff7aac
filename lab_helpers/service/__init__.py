"""The model service: a query-counting black-box API in-process, the local HTTP server and its client, simulated traffic."""

from .api import ModelAPI
from .client import ApiError, HttpModelAPI, post_raw, run_until_refused
from .server import (
    LAB_KEYS,
    MAX_BODY_BYTES,
    ModelService,
    face_endpoint,
    lab_models,
    patient_endpoint,
    run_scenario,
    serve_forever,
    start_server,
)
from .traffic import (
    Dashboard,
    camera_frames,
    clinician_user,
    dashboard_user,
    ordinary_traffic,
    replay,
    role_of,
    simulate_dashboard,
)

__all__ = [
    "ApiError",
    "Dashboard",
    "HttpModelAPI",
    "LAB_KEYS",
    "MAX_BODY_BYTES",
    "ModelAPI",
    "ModelService",
    "camera_frames",
    "clinician_user",
    "dashboard_user",
    "face_endpoint",
    "lab_models",
    "ordinary_traffic",
    "patient_endpoint",
    "post_raw",
    "replay",
    "role_of",
    "run_scenario",
    "run_until_refused",
    "serve_forever",
    "simulate_dashboard",
    "start_server",
]
