"""What `lab_helpers.attacks` exports, module by module: the one list, read at run time by `attach_stub` and by
editors and type checkers as the subpackage's stub."""

from .adaptive import (
    AdaptiveReconstructions as AdaptiveReconstructions,
    ObservedOutput as ObservedOutput,
    invert_adaptive as invert_adaptive,
    observe_output as observe_output,
)
from .evasion import (
    NAIVE as NAIVE,
    AttackStopped as AttackStopped,
    EvasionRun as EvasionRun,
    Pacing as Pacing,
    ProbeRouter as ProbeRouter,
    block_offsets as block_offsets,
    evade_black_box as evade_black_box,
)
from .decision_reasons import (
    attribute_from_letters as attribute_from_letters,
    copy_decisions as copy_decisions,
    decision_agreement as decision_agreement,
    infer_from_letters as infer_from_letters,
    membership_signal as membership_signal,
)
from .explanation_guided import invert_with_explanations as invert_with_explanations
from .label_only import invert_label_only as invert_label_only
from .membership import (
    MembershipTest as MembershipTest,
    best_threshold_test as best_threshold_test,
    member_confidences as member_confidences,
    membership_advantage as membership_advantage,
    threshold_test as threshold_test,
    true_label_confidence as true_label_confidence,
)
from .mi_face import (
    Reconstructions as Reconstructions,
    blur as blur,
    check_identities as check_identities,
    gradient_step as gradient_step,
    invert_black_box as invert_black_box,
    invert_white_box as invert_white_box,
    prior_gradient as prior_gradient,
    total_variation as total_variation,
)
from .face_priors import (
    FacePrior as FacePrior,
    fit_pca_prior as fit_pca_prior,
    nearest_public as nearest_public,
    public_photos as public_photos,
    train_generator_prior as train_generator_prior,
)
from .probing import (
    GROUPS as GROUPS,
    OUTPUTS as OUTPUTS,
    attack_result as attack_result,
    attack_table as attack_table,
    attribute_inference as attribute_inference,
    candidate_table as candidate_table,
    changed_values as changed_values,
    group_rows as group_rows,
    infer_sensitive as infer_sensitive,
    make_api as make_api,
    pick_best as pick_best,
    prior_only_guess as prior_only_guess,
    probability_shift as probability_shift,
    probe_person as probe_person,
    score_candidates as score_candidates,
    sensitivity_table as sensitivity_table,
)
from .with_prior import (
    invert_prior_black_box as invert_prior_black_box,
    invert_prior_label_only as invert_prior_label_only,
    invert_prior_white_box as invert_prior_white_box,
    public_lookup as public_lookup,
)
