"""What a learner sees and clicks: plots, widgets, lab 04's control panel, and the exercises' self-checks."""

from __future__ import annotations

# ruff: noqa: F401 - the names under TYPE_CHECKING are exported lazily through `attach`, not unused

from typing import TYPE_CHECKING

from ..lazy import attach

# module -> the names it exports; each module loads on first use of one of its names (no work on import)
__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "checks": [
            "check_blue_policy",
            "check_candidate_scoring",
            "check_detection_rule",
            "check_output_choice",
            "check_prior_defence",
            "check_privacy_review",
            "check_rate_limit",
            "check_reconstructions",
            "check_regularisation_choice",
            "check_release_fix",
            "check_score_reading",
            "check_smallest_epsilon",
            "placeholder",
        ],
        "control_panel": [
            "SETTINGS",
            "PanelView",
            "acceptable_settings",
            "find_setting",
            "honest_user_utility",
            "panel_view",
            "parameter_values",
            "prepare_panel",
            "setting_key",
            "show_control_panel",
        ],
        "plots": [
            "NO_SIGNAL",
            "epsilon_label",
            "flat_images",
            "for_display",
            "plot_attack_results",
            "plot_attack_vs_budget",
            "plot_confidence_histograms",
            "plot_defence_tradeoff",
            "plot_detection",
            "plot_epsilon_sweep",
            "plot_granularity_summary",
            "plot_leaf_size_sweep",
            "plot_prior_budgets",
            "plot_regularisation_defences",
            "plot_scores",
            "plot_sensitivity",
            "show_attack_rows",
            "show_face_grid",
            "show_reconstructions",
            "stretch_for_display",
        ],
        "widgets": ["MockExam", "QuizQuestion", "mock_exam", "progress_table", "quick_check", "show_quiz", "sorting_drill"],
    },
)

if TYPE_CHECKING:  # for editors and type checkers; at run time the names load lazily, above
    from .checks import (
        check_blue_policy,
        check_candidate_scoring,
        check_detection_rule,
        check_output_choice,
        check_prior_defence,
        check_privacy_review,
        check_rate_limit,
        check_reconstructions,
        check_regularisation_choice,
        check_release_fix,
        check_score_reading,
        check_smallest_epsilon,
        placeholder,
    )
    from .control_panel import (
        SETTINGS,
        PanelView,
        acceptable_settings,
        find_setting,
        honest_user_utility,
        panel_view,
        parameter_values,
        prepare_panel,
        setting_key,
        show_control_panel,
    )
    from .plots import (
        NO_SIGNAL,
        epsilon_label,
        flat_images,
        for_display,
        plot_attack_results,
        plot_attack_vs_budget,
        plot_confidence_histograms,
        plot_defence_tradeoff,
        plot_detection,
        plot_epsilon_sweep,
        plot_granularity_summary,
        plot_leaf_size_sweep,
        plot_prior_budgets,
        plot_regularisation_defences,
        plot_scores,
        plot_sensitivity,
        show_attack_rows,
        show_face_grid,
        show_reconstructions,
        stretch_for_display,
    )
    from .widgets import MockExam, QuizQuestion, mock_exam, progress_table, quick_check, show_quiz, sorting_drill
