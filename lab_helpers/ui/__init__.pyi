"""What `lab_helpers.ui` exports, module by module: the one list, read at run time by `attach_stub` and by
editors and type checkers as the subpackage's stub."""

from .checks import (
    check_blue_policy as check_blue_policy,
    check_candidate_scoring as check_candidate_scoring,
    check_detection_rule as check_detection_rule,
    check_output_choice as check_output_choice,
    check_prior_defence as check_prior_defence,
    check_privacy_review as check_privacy_review,
    check_rate_limit as check_rate_limit,
    check_reconstructions as check_reconstructions,
    check_regularisation_choice as check_regularisation_choice,
    check_release_fix as check_release_fix,
    check_score_reading as check_score_reading,
    check_smallest_epsilon as check_smallest_epsilon,
    placeholder as placeholder,
)
from .control_panel import (
    SETTINGS as SETTINGS,
    PanelView as PanelView,
    acceptable_settings as acceptable_settings,
    find_setting as find_setting,
    honest_user_utility as honest_user_utility,
    panel_view as panel_view,
    parameter_values as parameter_values,
    prepare_panel as prepare_panel,
    setting_key as setting_key,
    show_control_panel as show_control_panel,
)
from .predictions import (
    Prediction as Prediction,
    explain_to_your_manager as explain_to_your_manager,
    manager_note_feedback as manager_note_feedback,
    predict_first as predict_first,
)
from .plots import (
    NO_SIGNAL as NO_SIGNAL,
    amplification_captions as amplification_captions,
    epsilon_label as epsilon_label,
    flat_images as flat_images,
    for_display as for_display,
    plot_attack_results as plot_attack_results,
    plot_attack_vs_budget as plot_attack_vs_budget,
    plot_confidence_histograms as plot_confidence_histograms,
    plot_defence_tradeoff as plot_defence_tradeoff,
    plot_detection as plot_detection,
    plot_epsilon_sweep as plot_epsilon_sweep,
    plot_granularity_summary as plot_granularity_summary,
    plot_leaf_size_sweep as plot_leaf_size_sweep,
    plot_prior_budgets as plot_prior_budgets,
    plot_regularisation_defences as plot_regularisation_defences,
    plot_scores as plot_scores,
    plot_sensitivity as plot_sensitivity,
    show_attack_rows as show_attack_rows,
    show_face_grid as show_face_grid,
    show_reconstructions as show_reconstructions,
    stretch_for_display as stretch_for_display,
)
from .widgets import (
    MockExam as MockExam,
    QuizQuestion as QuizQuestion,
    mock_exam as mock_exam,
    progress_table as progress_table,
    quick_check as quick_check,
    show_quiz as show_quiz,
    sorting_drill as sorting_drill,
)
