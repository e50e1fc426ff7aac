"""Lab 06's guided path (issue 26): the measurements behind its three predictions and its graded decision come out as
the options and the words say. The notebook's own measure and grade functions run here, in a namespace built with the
kit's functions on the shared fixtures (the softmax target, the evaluator, the patients), against the same services."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from notebook_code import notebook_definitions as definitions_of

from lab_helpers.formatting import percent

KIT = Path(__file__).resolve().parent.parent
NOTEBOOK = KIT / "solutions" / "06_defence_access_and_monitoring.ipynb"
DEFINED = ("measure_rate_limit", "ordinary_day", "detection_logs", "measure_which_keys", "EVADER_KEYS", "pacing",
           "evading_run", "evasion_runs", "measure_evader", "DEPLOYMENTS", "MIN_DAYS", "grade_deployment")

pytestmark = pytest.mark.slow  # the attack over HTTP, an ordinary day, two evading runs, a busy day: about a minute


def notebook_definitions(namespace: dict) -> dict:
    """The notebook's own functions and constants (only those: no cell is run whole), defined in `namespace`."""
    return definitions_of(NOTEBOOK, DEFINED, namespace, imports=True)


@pytest.fixture(scope="module")
def lab(faces, softmax, evaluator, people, tmp_path_factory):
    """The guided path's state as the notebook builds it: the no-controls attack run over HTTP, then its functions."""
    with pytest.MonkeyPatch.context() as mp:  # the audit logs in a folder of the test's own, not data/cache/lab06/
        mp.setenv("LAB_AUDIT_DIR", str(tmp_path_factory.mktemp("lab06-audit")))
        return guided_state(faces, softmax, evaluator, people)


def guided_state(faces, softmax, evaluator, people) -> dict:
    """The notebook's functions, in a namespace holding what the cells before them define."""
    import pandas as pd
    from tqdm.auto import tqdm

    from lab_helpers.attacks import attribute_inference, invert_black_box
    from lab_helpers.defences import AdaptiveDetector, BaselineDetector, SimulatedClock
    from lab_helpers.judges import judge
    from lab_helpers.service import face_endpoint, ordinary_traffic, patient_endpoint, run_scenario, watch_traffic
    from lab_helpers.targets import train_tabular_model

    targets, per = np.arange(2, 40, 5), 2_000
    patient_model = train_tabular_model(people, name="overfit")
    served = [face_endpoint(softmax), patient_endpoint(patient_model, people)]
    attacks = {"mallory": ("faces", lambda api: invert_black_box(api, identities=targets, queries_per_person=per, progress=False)),
               "eve": ("patients", lambda api: attribute_inference(api, people, "members", n_people=300))}
    no_controls = run_scenario("no controls", served, attacks, rate_limits=False, granularity=False)
    ns = {"faces": faces, "people": people, "evaluator": evaluator, "served": served, "targets": targets,
          "PER_PERSON": per, "pd": pd, "tqdm": tqdm, "judge": judge, "percent": percent,
          "runs": {"no controls": no_controls}, "no_controls": no_controls,
          "per_person": no_controls.outcomes["mallory"].queries / len(targets)}
    notebook_definitions(ns)
    ns["evasion"] = ns["evasion_runs"]()
    ns["detection_logs"]()  # the attack's log and the ordinary day (cached), written while LAB_AUDIT_DIR is set
    busy_day = ordinary_traffic(faces, people, start=SimulatedClock().now, seed=0, patterns=True)
    ns["flagged_by"] = {name: sorted({a["key_id"] for a in watch_traffic(busy_day, detector, softmax, people).alerts})
                        for name, detector in {"baseline": BaselineDetector(), "adaptive": AdaptiveDetector()}.items()}
    return ns


def test_the_public_rate_limit_makes_the_attack_last_months(lab):
    right, text = lab["measure_rate_limit"]()
    assert right == 3 and "need 80 days" in text and "one person 2.0" in text, text
    assert lab["per_person"] == 2_000


def test_the_detector_flags_both_attackers_and_no_ordinary_user(lab):
    right, text = lab["measure_which_keys"]()
    assert right == 0, text
    summary = lab["detection_logs"]()[4].set_index("key")
    assert summary.loc["mallory", "queries until alert"] <= 500 and summary.loc["eve", "queries until alert"] <= 500
    assert "false alarms on 0 of 6 ordinary users" in text, text


def test_the_baseline_misses_the_evader_and_the_adaptive_detector_stops_her_before_templates_leak(lab):
    right, text = lab["measure_evader"]()
    assert right == 1, text
    adaptive = lab["evasion"]["adaptive"][0]
    assert adaptive.answered <= 2_000  # a few hundred queries: the margin for the option's words
    leak = lab["judge"](adaptive.images, lab["targets"], lab["faces"], lab["evaluator"]).template_lineup
    full = lab["judge"](lab["evasion"]["baseline"][0].images, lab["targets"], lab["faces"], lab["evaluator"]).template_lineup
    assert leak <= 0.3 and full >= 0.7, (leak, full)  # chance 20 %: far from the 0.5 threshold on both sides


def test_the_deployment_decision_gives_full_marks_to_one_option_and_partial_credit_that_says_why(lab):
    grades = {option: lab["grade_deployment"](option) for option in lab["DEPLOYMENTS"]}
    credits = {option: round(credit, 2) for option, (credit, _) in grades.items()}
    assert list(credits.values()) == [0.33, 1.0, 0.67, 0.67, 0.33], credits
    assert lab["flagged_by"]["adaptive"] == [] and len(lab["flagged_by"]["baseline"]) >= 2
    for option, (credit, lines) in grades.items():
        assert len(lines) == 3 and sum(line.startswith("✔") for line in lines) == round(credit * 3)
        assert not any(option.split(";")[0].lower() in line.lower() for line in lines), "feedback names the option"
