"""What `lab_helpers.defences` exports, module by module: the one list, read at run time by `attach_stub` and by
editors and type checkers as the subpackage's stub."""

from .access import (
    DAY as DAY,
    ROLES as ROLES,
    AccessPolicy as AccessPolicy,
    RateLimit as RateLimit,
    Role as Role,
    SimulatedClock as SimulatedClock,
    TokenBucket as TokenBucket,
    hash_secret as hash_secret,
)
from .audit import (
    AuditLog as AuditLog,
    AuditLogError as AuditLogError,
    AuditUnavailable as AuditUnavailable,
    clean_text as clean_text,
    default_audit_path as default_audit_path,
    delete_log as delete_log,
    key_folder as key_folder,
    keyed_digest as keyed_digest,
    read_alerts as read_alerts,
    read_requests as read_requests,
    read_sketches as read_sketches,
    verify_log as verify_log,
)
from .decision_reasons import (
    DecisionExplanation as DecisionExplanation,
    counterfactual_changes as counterfactual_changes,
    parse_decision_explanation as parse_decision_explanation,
    reference_record as reference_record,
    shapley_reasons as shapley_reasons,
)
from .explanations import (
    EXPLANATION_METHODS as EXPLANATION_METHODS,
    ExplanationPolicy as ExplanationPolicy,
    explanation_utility as explanation_utility,
    parse_explanation as parse_explanation,
)
from .dropped_columns import (
    MinimisedData as MinimisedData,
    Variant as Variant,
    minimise as minimise,
    proxy_shares as proxy_shares,
    train_variants as train_variants,
    variants as variants,
)
from .monitoring import (
    ORDINARY_ROLES as ORDINARY_ROLES,
    AdaptiveDetector as AdaptiveDetector,
    BaselineDetector as BaselineDetector,
    Detector as Detector,
    detection_summary as detection_summary,
    first_flag as first_flag,
    scan_log as scan_log,
    sketch_images as sketch_images,
    sketch_records as sketch_records,
    source_of as source_of,
    thumbnails as thumbnails,
    time_to_detection as time_to_detection,
)
from .output_policies import (
    POLICIES as POLICIES,
    ROLE_POLICIES as ROLE_POLICIES,
    OutputPolicy as OutputPolicy,
    add_noise as add_noise,
    label_only as label_only,
    policy_for_role as policy_for_role,
    round_scores as round_scores,
    top_k_scores as top_k_scores,
)
from .dp_sgd import (
    DELTA as DELTA,
    EPSILONS as EPSILONS,
    DPSpec as DPSpec,
    PooledSoftmax as PooledSoftmax,
    advantage_bound as advantage_bound,
    check_privacy_budget as check_privacy_budget,
    group_epsilon as group_epsilon,
    new_network as new_network,
    opacus_findings as opacus_findings,
    train_private_model as train_private_model,
    train_private_models as train_private_models,
    train_private_network as train_private_network,
)
