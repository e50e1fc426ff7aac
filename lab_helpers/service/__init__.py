"""The model service: a query-counting black-box API in-process, the local HTTP server and its client, simulated traffic."""

from __future__ import annotations

# ruff: noqa: F401 - the names under TYPE_CHECKING are exported lazily through `attach`, not unused

from typing import TYPE_CHECKING

from ..lazy import attach

# module -> the names it exports; each module loads on first use of one of its names (no work on import)
__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "api": ["ModelAPI"],
        "client": ["ApiError", "HttpModelAPI", "post_raw", "run_until_refused", "score_matrix"],
        "server": [
            "LAB_KEYS",
            "MAX_BODY_BYTES",
            "ModelService",
            "face_endpoint",
            "lab_models",
            "patient_endpoint",
            "run_scenario",
            "serve_forever",
            "start_server",
        ],
        "traffic": [
            "Dashboard",
            "Gateway",
            "WatchedAPI",
            "benign_patterns",
            "camera_frames",
            "clinician_user",
            "dashboard_user",
            "fixed_camera_user",
            "ordinary_traffic",
            "replay",
            "retrying_app_user",
            "role_of",
            "simulate_dashboard",
            "vital_monitor_user",
            "watch_traffic",
        ],
    },
)

if TYPE_CHECKING:  # for editors and type checkers; at run time the names load lazily, above
    from .api import ModelAPI
    from .client import ApiError, HttpModelAPI, post_raw, run_until_refused, score_matrix
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
        Gateway,
        WatchedAPI,
        benign_patterns,
        camera_frames,
        clinician_user,
        dashboard_user,
        fixed_camera_user,
        ordinary_traffic,
        replay,
        retrying_app_user,
        role_of,
        simulate_dashboard,
        vital_monitor_user,
        watch_traffic,
    )
