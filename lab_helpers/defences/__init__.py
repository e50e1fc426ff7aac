"""The defences, by where they act: on the output, in training, on the data, and at the gateway (keys, limits, log, detector)."""

from __future__ import annotations

# ruff: noqa: F401 - the names under TYPE_CHECKING are exported lazily through `attach`, not unused

from typing import TYPE_CHECKING

from ..lazy import attach

# module -> the names it exports; each module loads on first use of one of its names (no work on import)
__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "access": [
            "DAY",
            "REFUSAL_LIMIT",
            "ROLES",
            "AccessPolicy",
            "RateLimit",
            "Role",
            "SimulatedClock",
            "TokenBucket",
            "hash_secret",
        ],
        "audit": [
            "AuditLog",
            "AuditLogError",
            "AuditUnavailable",
            "Verification",
            "clean_text",
            "default_audit_path",
            "delete_log",
            "keyed_digest",
            "read_alerts",
            "read_requests",
            "read_sketches",
            "verify_log",
        ],
        "minimisation": ["MinimisedData", "Variant", "minimise", "proxy_shares", "train_variants", "variants"],
        "monitoring": [
            "ADAPTIVE_RULES",
            "ORDINARY_ROLES",
            "RULES",
            "AdaptiveDetector",
            "BaselineDetector",
            "Detector",
            "detection_summary",
            "first_flag",
            "low_frequency",
            "scan_log",
            "sketch_images",
            "sketch_records",
            "source_of",
            "thumbnails",
            "time_to_detection",
        ],
        "output": [
            "POLICIES",
            "ROLE_POLICIES",
            "OutputPolicy",
            "add_noise",
            "label_only",
            "policy_for_role",
            "round_scores",
            "top_k_scores",
        ],
        "training": [
            "DELTA",
            "EPSILONS",
            "DPSpec",
            "PooledSoftmax",
            "advantage_bound",
            "check_privacy_budget",
            "group_epsilon",
            "new_network",
            "opacus_findings",
            "train_private_model",
            "train_private_models",
            "train_private_network",
        ],
    },
)

if TYPE_CHECKING:  # for editors and type checkers; at run time the names load lazily, above
    from .access import (
        DAY,
        REFUSAL_LIMIT,
        ROLES,
        AccessPolicy,
        RateLimit,
        Role,
        SimulatedClock,
        TokenBucket,
        hash_secret,
    )
    from .audit import (
        AuditLog,
        AuditLogError,
        AuditUnavailable,
        Verification,
        clean_text,
        default_audit_path,
        delete_log,
        keyed_digest,
        read_alerts,
        read_requests,
        read_sketches,
        verify_log,
    )
    from .minimisation import MinimisedData, Variant, minimise, proxy_shares, train_variants, variants
    from .monitoring import (
        ADAPTIVE_RULES,
        ORDINARY_ROLES,
        RULES,
        AdaptiveDetector,
        BaselineDetector,
        Detector,
        detection_summary,
        first_flag,
        low_frequency,
        scan_log,
        sketch_images,
        sketch_records,
        source_of,
        thumbnails,
        time_to_detection,
    )
    from .output import (
        POLICIES,
        ROLE_POLICIES,
        OutputPolicy,
        add_noise,
        label_only,
        policy_for_role,
        round_scores,
        top_k_scores,
    )
    from .training import (
        DELTA,
        EPSILONS,
        DPSpec,
        PooledSoftmax,
        advantage_bound,
        check_privacy_budget,
        group_epsilon,
        new_network,
        opacus_findings,
        train_private_model,
        train_private_models,
        train_private_network,
    )
