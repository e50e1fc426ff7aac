"""The attacks: MI-FACE (white-box, black-box, adaptive to the output control), membership tests, attribute inference."""

from __future__ import annotations

# ruff: noqa: F401 - the names under TYPE_CHECKING are exported lazily through `attach`, not unused

from typing import TYPE_CHECKING

from ..lazy import attach

# module -> the names it exports; each module loads on first use of one of its names (no work on import)
__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "adaptive": ["AdaptiveResult", "ObservedOutput", "invert_adaptive", "observe_output"],
        "evasion": [
            "NAIVE",
            "AttackStopped",
            "EvasionRun",
            "Pacing",
            "ProbeRouter",
            "block_offsets",
            "evade_black_box",
        ],
        "label_only": ["invert_label_only"],
        "membership": [
            "MembershipTest",
            "best_threshold_test",
            "member_confidences",
            "membership_advantage",
            "threshold_test",
            "true_label_confidence",
        ],
        "mi_face": [
            "Reconstructions",
            "blur",
            "check_identities",
            "gradient_step",
            "invert_black_box",
            "invert_white_box",
            "prior_gradient",
            "total_variation",
        ],
        "priors": [
            "FacePrior",
            "GeneratorPrior",
            "PCAPrior",
            "fit_pca_prior",
            "nearest_public",
            "public_photos",
            "train_generator_prior",
        ],
        "probing": [
            "GROUPS",
            "OUTPUTS",
            "attack_result",
            "attack_table",
            "attribute_inference",
            "candidate_table",
            "changed_values",
            "group_rows",
            "infer_sensitive",
            "make_api",
            "pick_best",
            "prior_only_guess",
            "probability_shift",
            "probe_person",
            "score_candidates",
            "sensitivity_table",
        ],
        "with_prior": ["invert_prior_black_box", "invert_prior_label_only", "invert_prior_white_box", "public_lookup"],
    },
)

if TYPE_CHECKING:  # for editors and type checkers; at run time the names load lazily, above
    from .adaptive import AdaptiveResult, ObservedOutput, invert_adaptive, observe_output
    from .evasion import NAIVE, AttackStopped, EvasionRun, Pacing, ProbeRouter, block_offsets, evade_black_box
    from .label_only import invert_label_only
    from .membership import (
        MembershipTest,
        best_threshold_test,
        member_confidences,
        membership_advantage,
        threshold_test,
        true_label_confidence,
    )
    from .mi_face import (
        Reconstructions,
        blur,
        check_identities,
        gradient_step,
        invert_black_box,
        invert_white_box,
        prior_gradient,
        total_variation,
    )
    from .priors import (
        FacePrior,
        GeneratorPrior,
        PCAPrior,
        fit_pca_prior,
        nearest_public,
        public_photos,
        train_generator_prior,
    )
    from .probing import (
        GROUPS,
        OUTPUTS,
        attack_result,
        attack_table,
        attribute_inference,
        candidate_table,
        changed_values,
        group_rows,
        infer_sensitive,
        make_api,
        pick_best,
        prior_only_guess,
        probability_shift,
        probe_person,
        score_candidates,
        sensitivity_table,
    )
    from .with_prior import invert_prior_black_box, invert_prior_label_only, invert_prior_white_box, public_lookup
