"""Lab 04's control panel: the handler at every setting, attack numbers in ranges, speed, and the widget wiring."""
from __future__ import annotations

import numpy as np
import pytest

from lab_helpers.ui import SETTINGS, PanelView, acceptable_settings, find_setting, show_control_panel, panel_view, prepare_panel
from lab_helpers.ui.control_panel import honest_user_utility, parameter_values, setting_key


@pytest.fixture(scope="module")
def panel(faces):
    from lab_helpers.data import load_people
    from lab_helpers.judges import train_evaluator
    from lab_helpers.targets import train_face_model
    from lab_helpers.targets import train_overfit_and_regularised

    people = load_people("healthcare")
    return prepare_panel(train_face_model(faces, "softmax", progress=False), faces, train_evaluator(faces, progress=False),
                         train_overfit_and_regularised(people)["overfit"], people, budget=2000, progress=False)


@pytest.mark.slow
@pytest.mark.parametrize("policy", SETTINGS, ids=lambda p: p.describe())
def test_handler_gives_a_complete_view_at_every_setting(panel, policy):
    view = panel_view(panel, *setting_key(policy))
    assert isinstance(view, PanelView) and view.title == policy.describe()
    assert view.picture.startswith(b"\x89PNG") and "bb-recognised" in view.metrics and "ai-accuracy" in view.metrics
    assert '"label"' in view.response
    assert ('"scores"' in view.response) == (policy.kind != "label")


def test_label_only_is_no_better_than_full_probabilities_and_near_chance(panel):
    full, label = panel.results[("probabilities", None)], panel.results[("label", None)]
    assert full.face.recognised_top1 >= 0.1 and full.face.template_lineup >= 0.85  # measured 17.5 % and 97 %
    assert label.face.recognised_top1 <= 0.05 and label.face.template_lineup <= 0.3  # the naive attacker stalls
    assert label.attribute["accuracy"] <= full.attribute["accuracy"] + 0.02


COARSE = [("rounded", 2), ("rounded", 1), ("top_k", 5), ("top_k", 3), ("label_score", None), ("label", None)]
MILD = [("probabilities", None), ("noisy", 0.001), ("rounded", 4)]


def test_lab_04_words_the_coarse_settings_stop_the_naive_attack_and_the_mild_ones_do_not(panel):
    """Lab 04 §4 names which settings hold this (non-adaptive) attack to 5 % recognised or less, and which do not."""
    held = {s for s in panel.results if panel.results[s].face.recognised_top1 <= 0.05}
    # measured: 2.5 % at every COARSE setting; 7.5-17.5 % at the MILD ones; the noisy and the middle settings sit
    # near the 5 % edge (one or two people), so the lab prints which ones fell under it
    assert set(COARSE) <= held and not held & set(MILD)


def test_the_panel_says_what_the_honest_users_ranking_is_made_of(panel):
    assert "this is top-1" in panel_view(panel, "label").metrics
    assert "ranked from the 5 scores shown" in panel_view(panel, "top_k", 5).metrics
    label = panel.results[("label", None)].utility
    assert label["top5"] == pytest.approx(label["top1"])  # nothing but the label is shown


def test_coarser_rounding_never_helps_the_black_box_attack_much(panel):
    lineups = [panel.results[("rounded", d)].face.template_lineup for d in (4, 3, 2, 1)]
    assert lineups[0] >= 0.5 and lineups[-1] <= 0.3
    assert all(b <= a + 0.05 for a, b in zip(lineups, lineups[1:]))


def test_white_box_is_untouched_and_labels_keep_top1(panel):
    assert panel.white_box.template_lineup >= 0.9 and panel.white_box.recognised_top1 >= 0.3
    top1 = {r.utility["top1"] for r in panel.results.values()}
    assert len(top1) == 1 and top1.pop() >= 0.9
    assert panel.results[("probabilities", None)].utility["score_error"] == 0
    assert panel.results[("label", None)].utility["score_error"] > panel.results[("rounded", 2)].utility["score_error"]


def test_attribute_inference_survives_label_only_on_the_overfit_model(panel):
    label = panel.results[("label", None)].attribute
    assert label["accuracy"] - label["baseline"] >= 0.2


def test_a_slider_move_only_looks_up_cached_results(panel, monkeypatch):
    """Moving the controls never attacks, judges or trains: everything expensive was measured once and cached."""
    import lab_helpers.attacks.mi_face as mi_face
    import lab_helpers.judges.reconstructions as reconstructions
    import lab_helpers.ui.control_panel as control_panel

    def expensive(*args, **kwargs):
        raise AssertionError("a slider move ran an attack or a measurement")

    for module, name in ((control_panel, "measure_setting"), (control_panel, "prepare_panel"),
                         (mi_face, "invert_black_box"), (mi_face, "invert_white_box"), (reconstructions, "judge")):
        monkeypatch.setattr(module, name, expensive)
    cp = show_control_panel(panel)
    seen = set()
    for policy in SETTINGS:
        kind, value = setting_key(policy)
        cp.policy.value = kind
        if value is not None:
            cp.knob.value = value
        seen.add(cp.title.value)
    assert len(seen) == len(SETTINGS)  # every setting was shown, from the cache (its speed: benchmarks/)


def test_widget_shows_what_the_handler_says(panel):
    cp = show_control_panel(panel)
    full_picture, full_metrics = cp.picture.value, cp.metrics.value
    cp.policy.value = "label"
    assert cp.knob.disabled and cp.picture.value != full_picture and cp.metrics.value != full_metrics
    assert cp.metrics.value == panel_view(panel, "label").metrics
    cp.policy.value = "rounded"
    assert not cp.knob.disabled and [v for _, v in cp.knob.options] == [4, 3, 2, 1]
    assert cp.knob.label == "4 decimals"  # the slider says the setting in words (it read "0 of 3")
    assert cp.policy.icons[[name for _, name in cp.policy.options].index("rounded")] == "check"  # not colour alone
    assert cp.policy.icons.count("check") == 1
    cp.knob.value = 2
    assert "rounded to 2 decimals" in cp.title.value and cp.knob.label == "2 decimals"


def test_unknown_setting_lists_the_valid_ones():
    with pytest.raises(ValueError, match="Valid settings: probabilities"):
        find_setting("rounded", 7)
    assert parameter_values("top_k") == [10, 5, 3] and parameter_values("label") == []


def test_exercise_answer_and_self_check(panel, capsys):
    """Judged against the adaptive attacker no setting meets all three requirements; the naive one would pass two."""
    from lab_helpers.ui import check_output_choice, placeholder

    assert acceptable_settings(panel) == []
    naive = acceptable_settings(panel, attacker="naive")  # measured: rounded to 3 or 2, top 10, 5 or 3
    assert {("rounded", 2), ("top_k", 5), ("top_k", 3)} <= set(naive) <= {("rounded", 3), ("rounded", 2), ("top_k", 10),
                                                                        ("top_k", 5), ("top_k", 3)}
    assert check_output_choice(None, panel)
    assert "no output setting alone meets all three" in capsys.readouterr().out
    assert not check_output_choice(("rounded", 2), panel)
    assert "holds the naive attacker, but not the adaptive one" in capsys.readouterr().out
    assert not check_output_choice(("probabilities", None), panel)
    assert not check_output_choice(("rounded", 9), panel)
    assert "not one of the panel's settings" in capsys.readouterr().out
    assert not check_output_choice(placeholder(("probabilities", None), "choose"), panel)
    assert "Nothing to check yet" in capsys.readouterr().out


def test_the_adaptive_attacker_is_recognised_at_every_setting_about_as_often_as_with_exact_scores(panel):
    """Lab 04's headline, by the strict evaluator: at every output setting the attacker who adapts is recognised many
    times chance, within a few points of what exact scores give (the label alone feeds the boundary attack)."""
    full = panel.results[("probabilities", None)]
    for key, r in panel.results.items():
        assert r.adaptive.recognised_top1 >= 0.1 and r.adaptive.recognised_top1 >= full.adaptive.recognised_top1 - 0.05, key
        assert r.adaptive.recognised_top1 >= r.face.recognised_top1 - 0.025, key  # never weaker than the naive one
        assert r.adaptive.template_lineup >= 0.6, key  # and the template leaks at every setting
        assert r.queries_to("adaptive", 0.05) is not None, key
    assert panel.results[("rounded", 1)].naive_stalled >= 30  # the naive attacker stalls: that is its "chance"


def test_the_view_shows_both_attackers_and_both_pictures(panel):
    view = panel_view(panel, "rounded", 2)
    assert "ad-recognised" in view.metrics and "bb-recognised" in view.metrics and "no signal for" in view.metrics
    assert "template leak: lineup" in view.metrics and "nearest photo" in view.metrics
    assert view.adaptive_picture.startswith(b"\x89PNG") and view.adaptive_picture != view.picture
    assert view.adaptive_recognised > view.naive_recognised
    from lab_helpers.formatting import percent
    from lab_helpers.ui.control_panel import picture_captions

    naive, adaptive = picture_captions(view)  # the words under each picture (issue 26: no image without them)
    assert "naive attacker's reconstructions of people 1, 5, 9" in naive and percent(view.naive_recognised) in naive
    assert view.title in adaptive and percent(view.adaptive_recognised) in adaptive


def test_honest_user_utility_counts_only_shown_scores():
    exact = np.array([[0.5, 0.3, 0.2]])
    shown = np.array([[1.0, 0.0, 0.0]])
    u = honest_user_utility(np.array([0]), shown, np.array([1]), exact)
    assert u == {"top1": 0.0, "top5": 0.0, "score_error": pytest.approx(0.5)}


def test_the_panel_offers_an_explanation_beside_the_answer(panel):
    """Issue 27: the explanation settings in the panel, through the handler and the widget."""
    import dataclasses

    import pandas as pd

    table = pd.DataFrame({"what the map is": ["signed gradient, any class", "heat map"],
                          "recognised at 10": [0.35, np.nan], "recognised at 100": [0.4, np.nan],
                          "signal": [True, False], "utility": [1.0, 1.0]}, index=["gradient:any", "saliency:any"])
    explained = dataclasses.replace(panel, explanations=table)
    plain = panel_view(explained, "label")
    assert "Explanation sent" not in plain.metrics
    view = panel_view(explained, "label", explanation="gradient:any")
    assert "Explanation sent" in view.metrics and 'class="ex-recognised">40 %' in view.metrics and "(35 % after 10)" in view.metrics
    assert "no signal" in panel_view(explained, "label", explanation="saliency:any").metrics
    with pytest.raises(ValueError, match="Valid: none, gradient:any, saliency:any"):
        panel_view(explained, "label", explanation="smoothgrad")
    with pytest.raises(ValueError, match="explanations=True"):
        panel_view(panel, "label", explanation="gradient:any")
    widget = show_control_panel(explained)
    assert list(widget.explanation.options) == ["none", "gradient:any", "saliency:any"] and not widget.explanation.disabled
    widget.explanation.value = "gradient:any"
    assert "ex-recognised" in widget.metrics.value
    assert show_control_panel(panel).explanation.disabled  # nothing measured: nothing offered


def test_a_picture_row_is_drawn_when_first_shown_and_then_kept():
    from lab_helpers.ui.control_panel import RowPictures

    images = np.random.default_rng(0).random((8, 64, 64)).astype(np.float32)
    pictures = RowPictures({"white-box": (images, "white-box reconstructions"), ("label",): (images * 0.5, "labels")})
    assert len(pictures) == 2 and set(pictures) == {"white-box", ("label",)} and not pictures._drawn  # nothing drawn yet
    first = pictures["white-box"]
    assert first.startswith(b"\x89PNG") and set(pictures._drawn) == {"white-box"}
    assert pictures["white-box"] is first  # drawn once
    with pytest.raises(KeyError):
        pictures["no such row"]


def test_one_picture_row_shows_at_a_time_under_the_buttons(panel):
    cp = show_control_panel(panel)
    children = list(cp.box.children)
    assert children.index(cp.row_choice) < children.index(cp.picture) < len(children) - 1  # faces before the tables
    shown = [name for name, (image, caption) in cp.rows.items() if image.layout.display != "none"]
    assert shown == ["naive attacker"] and cp.row_choice.icons[0] == "check"
    cp.row_choice.value = "white-box (model file)"
    assert cp.white_picture.layout.display is None and cp.picture.layout.display == "none"
    assert cp.adaptive_caption.layout.display == "none" and list(cp.row_choice.icons) == ["", "", "check"]
    cp.policy.value = "label"  # a new setting keeps the row the learner chose, and redraws the hidden ones
    assert cp.row_choice.value == "white-box (model file)" and cp.picture.value == panel_view(panel, "label").picture
