"""Model Inversion Lab helpers: the plumbing behind the notebooks, one module per concern.

Names are loaded on first use, so `import lab_helpers` does no work and pulls in no heavy library.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "load_faces": "data", "FaceData": "data", "FaceDataMissing": "data", "split_per_person": "data",
    "run_doctor": "doctor", "run_checks": "doctor",
    "build_labs": "notebooks", "reset_lab": "notebooks", "list_labs": "notebooks",
    "load_threat_cards": "quiz", "threat_definitions": "quiz", "load_questions": "quiz",
    "grade_card": "quiz", "grade_question": "quiz", "THREATS": "quiz",
    "sorting_drill": "widgets", "show_quiz": "widgets",
    "show_face_grid": "plots", "plot_scores": "plots",
    "train_quick_face_classifier": "models", "confidence_scores": "models",
    "placeholder": "checks", "check_score_reading": "checks",
    "ModelAPI": "api", "OutputPolicy": "defences", "POLICIES": "defences",
    # lab 03
    "train_face_model": "face_models", "FaceModel": "face_models",
    "invert_white_box": "mi_face", "invert_black_box": "mi_face", "Reconstructions": "mi_face",
    "train_evaluator": "judges", "judge": "judges", "verdict_table": "judges", "normalise_contrast": "judges",
    "show_reconstructions": "plots", "plot_attack_vs_budget": "plots", "check_reconstructions": "checks",
    # lab 04
    "prepare_panel": "control_panel", "show_control_panel": "control_panel", "panel_view": "control_panel",
    "policy_for_role": "defences", "ROLE_POLICIES": "defences", "plot_granularity_summary": "plots",
    "check_output_choice": "checks",
    # labs 05-07
    "epsilon_sweep": "privacy", "train_private_models": "privacy", "train_variants": "minimisation",
    "minimisation_table": "minimisation", "start_server": "serving", "ModelService": "serving",
    "HttpModelAPI": "http_client", "AccessPolicy": "access_policy", "RateLimit": "access_policy",
    "read_requests": "audit", "read_alerts": "audit",
    "quick_check": "widgets", "mock_exam": "widgets", "progress_table": "widgets",
    "Candidate": "governance", "model_card": "governance", "release_gate": "governance", "review_privacy": "governance",
    "check_privacy_review": "checks", "check_release_fix": "checks",
    # labs 01-02
    "load_people": "synthetic", "make_people": "synthetic", "write_dataset": "synthetic", "data_card": "synthetic",
    "FRAMINGS": "synthetic", "PeopleData": "synthetic", "Framing": "synthetic", "target_shares": "synthetic",
    "train_tabular_model": "tabular_models", "train_overfit_and_regularised": "tabular_models",
    "regularisation_sweep": "tabular_models", "OVERFIT_LEAF": "tabular_models",
    "REGULARISED_LEAF": "tabular_models", "LEAF_SIZES": "tabular_models",
    "true_label_confidence": "membership", "member_confidences": "membership", "threshold_test": "membership",
    "best_threshold_test": "membership", "membership_advantage": "membership",
    "make_api": "probing", "probability_shift": "probing", "probe_person": "probing",
    "sensitivity_table": "probing", "score_candidates": "probing", "attribute_inference": "probing",
    "attack_table": "probing", "prior_only_guess": "probing", "OUTPUTS": "probing", "candidate_table": "probing",
    "attack_result": "probing",
    "plot_confidence_histograms": "plots", "plot_regularisation_sweep": "plots", "plot_sensitivity": "plots",
    "plot_attack_results": "plots",
    "check_regularisation_choice": "checks", "check_candidate_scoring": "checks",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'lab_helpers' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
