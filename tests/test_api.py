"""ModelAPI and the output policies: what a caller sees, query counting, and clear messages on bad input."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lab_helpers.service import ModelAPI
from lab_helpers.defences import POLICIES, OutputPolicy, add_noise, label_only, round_scores, top_k_scores

P = np.array([[0.55, 0.3, 0.1, 0.05], [0.1, 0.2, 0.3, 0.4]])


def fixed_model(x):
    return np.resize(P, (len(x), 4))


def test_round_top_k_label_only():
    assert np.allclose(round_scores(P, 1), [[0.6, 0.3, 0.1, 0.0], [0.1, 0.2, 0.3, 0.4]])
    assert np.allclose(top_k_scores(P, 2), [[0.55, 0.3, 0, 0], [0, 0, 0.3, 0.4]])
    assert np.allclose(label_only(P), [[1, 0, 0, 0], [0, 0, 0, 1]])


def test_noise_keeps_a_distribution_and_is_seeded():
    a = add_noise(P, 0.1, np.random.default_rng(1))
    assert np.allclose(a.sum(axis=1), 1) and (a >= 0).all() and not np.allclose(a, P)
    assert np.allclose(a, add_noise(P, 0.1, np.random.default_rng(1)))


@pytest.mark.parametrize("kind", POLICIES)
def test_every_policy_keeps_the_top_label(kind):
    api = ModelAPI(fixed_model, kind, input_size=3, decimals=2, k=2, noise_scale=0.01)
    seen = api.query(np.zeros((2, 3)))
    assert seen.shape == (2, 4) and seen.argmax(axis=1).tolist() == [0, 3]


def test_queries_are_counted_per_row():
    api = ModelAPI(fixed_model, input_size=3)
    api.query(np.zeros(3))
    api.query(np.zeros((5, 3)))
    assert api.queries == 6
    api.reset_count()
    assert api.queries == 0


def test_respond_shows_what_a_caller_reads():
    names = ["ann", "bo", "cy", "di"]
    assert ModelAPI(fixed_model, "label", input_size=3, class_names=names).respond(np.zeros(3)) == [{"label": "ann"}]
    top = ModelAPI(fixed_model, "label_score", input_size=3, class_names=names).respond(np.zeros(3))[0]
    assert top == {"label": "ann", "scores": {"ann": 0.55}}


def test_unknown_policy_names_the_valid_ones():
    with pytest.raises(ValueError) as info:
        ModelAPI(fixed_model, "confidence")
    assert all(p in str(info.value) for p in POLICIES)


@pytest.mark.parametrize("level", [-1, 1.5, "2"])
def test_bad_rounding_level_is_refused_clearly(level):
    with pytest.raises(ValueError, match="rounding level"):
        OutputPolicy("rounded", decimals=level)


def test_bad_k_and_noise_are_refused_clearly():
    with pytest.raises(ValueError, match="1 or more"):
        ModelAPI(fixed_model, "top_k", input_size=3, k=0)
    assert np.allclose(ModelAPI(fixed_model, "top_k", input_size=3, k=9).query(np.zeros(3)), P[:1])  # k above 4 classes: all
    with pytest.raises(ValueError, match="noise scale"):
        OutputPolicy("noisy", noise_scale=-0.1)


def test_query_of_wrong_shape_or_missing_columns_says_what_is_needed():
    with pytest.raises(ValueError, match="4096 values"):
        ModelAPI(fixed_model, input_size=4096).query(np.zeros((2, 100)))
    api = ModelAPI(lambda frame: np.resize(P, (len(frame), 4)), columns=["age", "weight", "dose"])
    with pytest.raises(ValueError, match=r"missing column\(s\) \['dose'\]"):
        api.query({"age": 40, "weight": 70})
    assert api.query({"age": 40, "weight": 70, "dose": 5}).shape == (1, 4)


def test_the_label_is_the_models_own_even_when_rounding_ties_the_scores():
    api = ModelAPI(lambda x: np.resize([[0.26, 0.34, 0.40]], (len(x), 3)), "rounded", input_size=3, decimals=0)
    labels, scores = api.answer(np.zeros(3))
    assert labels.tolist() == [2] and scores.tolist() == [[0.0, 0.0, 0.0]]
    assert api.respond(np.zeros(3))[0]["label"] == "2"


# ---------------------------------------------------------------- one record per output kind, read everywhere

def test_every_reader_takes_its_output_kinds_from_the_records():
    """The panel, the release gate, the red team, the exam, the service and the adaptive attacker read OUTPUT_KINDS."""
    from lab_helpers.attacks.adaptive import COUNTER_MOVES
    from lab_helpers.classroom.red_team import SCORED
    from lab_helpers.defences.output_policies import OUTPUT_KINDS, POLICIES, POLICY_SPELLINGS, parse_policy
    from lab_helpers.exam.pbq import OUTPUTS
    from lab_helpers.ui.control_panel import POLICY_CHOICES, SETTINGS

    kinds = set(OUTPUT_KINDS)
    assert set(POLICIES) == kinds == {name for _, name in POLICY_CHOICES} == set(OUTPUTS) == {p.kind for p in SETTINGS}
    assert set(SCORED) == {k for k, r in OUTPUT_KINDS.items() if r.person_score} and SCORED[0] == "probabilities"
    for record in OUTPUT_KINDS.values():  # every kind parses from its own spelling, with its example value
        spelled = record.name + (f":{record.example}" if record.parameter else "")
        assert spelled.split(":")[0] in POLICY_SPELLINGS
        assert parse_policy(spelled).spelling() == spelled
    # the attacker answers every kind: a counter-move for scores, or the label attack where no person's score shows
    assert all(k in COUNTER_MOVES or not r.person_score for k, r in OUTPUT_KINDS.items())


def test_the_detail_ranks_order_policies_as_the_release_gate_needs():
    from lab_helpers.defences.output_policies import OutputPolicy

    ordered = [OutputPolicy("label"), OutputPolicy("label_score"), OutputPolicy("top_k", k=3), OutputPolicy("rounded"),
               OutputPolicy("probabilities")]
    for i, less in enumerate(ordered):
        for more in ordered[i + 1:]:
            assert more.tells_more_than(less) and not less.tells_more_than(more)
    assert OutputPolicy("noisy", noise_scale=0.01).tells_more_than(OutputPolicy("noisy", noise_scale=0.05))
    assert OutputPolicy("top_k", k=5).tells_more_than(OutputPolicy("top_k", k=3))
    assert not OutputPolicy("rounded", decimals=1).tells_more_than(OutputPolicy("rounded", decimals=2))
    assert [p.shows_scores for p in ordered] == [False, True, True, True, True]


def test_no_module_switches_on_an_output_kind_by_name_outside_the_records():
    """A new output kind is one record: no other module may branch on 'rounded', 'top_k', 'label' ... by name
    (the adaptive attacker's reading of answers and its counter-moves are the attacker's own knowledge)."""
    import re

    from lab_helpers.defences.output_policies import OUTPUT_KINDS

    names = "|".join(OUTPUT_KINDS)
    pattern = re.compile(rf"""kind\s*(==|!=)\s*["']({names})["']|kind\s+(not\s+)?in\s*\(\s*["']({names})["']""")
    package = Path(__file__).resolve().parent.parent / "lab_helpers"
    allowed = {"defences/output_policies.py", "attacks/adaptive.py"}
    found = [f"{path.relative_to(package)}:{n}" for path in package.rglob("*.py")
             if str(path.relative_to(package)) not in allowed
             for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if pattern.search(line)]
    assert found == []


def test_every_query_client_is_a_query_api(tmp_path):
    """The five clients the attacks run through implement one interface: queries, query(x), answer(x)."""
    from lab_helpers.attacks import ProbeRouter
    from lab_helpers.defences import BaselineDetector
    from lab_helpers.exam.pbq import ServiceClient
    from lab_helpers.service import Gateway, HttpModelAPI, QueryAPI, WatchedAPI

    api = ModelAPI(fixed_model, "label_score")
    watched = WatchedAPI(Gateway(BaselineDetector()), api, "k1", kind="image")
    over_http = [cls.__new__(cls) for cls in (HttpModelAPI, ServiceClient)]  # built without a server to call
    for client in over_http:
        client.queries = 0  # as their __init__ sets it once connected
    for client in [api, watched, ProbeRouter({"k1": api}), *over_http]:
        assert isinstance(client, QueryAPI), type(client).__name__
    images = np.full((3, 4096), 0.5, dtype=np.float32)
    labels, scores = watched.answer(images)  # the watched key answers labels too, as every client does
    assert labels.tolist() == [0, 3, 0] and scores.shape == (3, 4) and watched.queries == 3
    assert np.array_equal(watched.query(images), scores)
