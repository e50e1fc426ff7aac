"""Explanations as an output (issue 27): Captum's maps, the controls on them, and the attack they hand over."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from lab_helpers.attacks import invert_with_explanations
from lab_helpers.defences import EXPLANATION_METHODS, ExplanationPolicy, explanation_utility, parse_explanation
from lab_helpers.defences.explanations import apply_controls, coarse_map, raw_maps, top_pixels_map
from lab_helpers.judges import judge
from lab_helpers.service import ExplainingAPI

PEOPLE = np.arange(0, 40, 2)  # 20 people: enough for the judges' rates, half the time


def test_spellings_round_trip_and_bad_ones_name_the_valid_ones():
    for spec in ("saliency", "gradient:any", "integrated_gradients+coarse:8", "gradient:any+top_pixels:200+noisy:1"):
        assert parse_explanation(spec).spelling() == spec
    assert parse_explanation("gradient:any+coarse:8") == ExplanationPolicy("gradient", "any", coarse=8)
    for bad, words in (("heatmap", "Valid: METHOD"), ("gradient:all", "Valid: METHOD"), ("saliency+blur:2", "control"),
                       ("saliency+coarse:x", "not a whole number")):
        with pytest.raises(ValueError, match=words):
            parse_explanation(bad)
    with pytest.raises(ValueError, match="divides 64"):
        ExplanationPolicy(coarse=5)
    assert "any class the caller names" in parse_explanation("gradient:any").describe()


def test_captums_gradient_is_autograds_and_the_heat_maps_have_no_sign(softmax, faces):
    x = faces.X_test[:4]
    classes = np.array([0, 5, 9, 39])
    maps = raw_maps(softmax.net, x, classes, "gradient")
    t = torch.as_tensor(x, dtype=torch.float32).requires_grad_(True)
    torch.log_softmax(softmax.net(t), 1)[torch.arange(4), torch.as_tensor(classes)].sum().backward()
    assert np.allclose(maps, t.grad.numpy(), atol=1e-5)
    for method in EXPLANATION_METHODS:
        m = raw_maps(softmax.net, x, classes, method)
        assert m.shape == (4, 4096) and np.isfinite(m).all()
        assert (m.min() < 0) == parse_explanation(method).signed


def test_the_controls_do_what_they_say():
    rng = np.random.default_rng(0)
    maps = rng.normal(size=(3, 4096)).astype(np.float32)
    blocks = coarse_map(maps, 8).reshape(3, 8, 8, 8, 8)
    assert np.allclose(blocks, blocks[:, :, :1, :, :1])  # one value per 8x8 block
    assert np.allclose(blocks.mean(axis=(2, 4)), maps.reshape(3, 8, 8, 8, 8).mean(axis=(2, 4)), atol=1e-6)
    top = top_pixels_map(maps, 50)
    assert ((top != 0).sum(axis=1) == 50).all() and np.all(np.abs(top).max(1) == np.abs(maps).max(1))
    noisy = apply_controls(maps, ExplanationPolicy("gradient", noisy=1.0), rng)
    assert 0.9 < np.std(noisy - maps) / np.std(maps) < 1.1  # about one spread of noise added


def test_a_signed_map_of_any_class_is_the_white_box_gradient_in_a_few_queries(softmax, faces, evaluator):
    api = ExplainingAPI(softmax, "label", "gradient:any")
    result = invert_with_explanations(api, PEOPLE, queries_per_person=100, snapshots=(10,), progress=False)
    assert api.queries == 100 * len(PEOPLE) == api.explanations and (result.queries == 100).all()
    early = judge(result.snapshots[10], PEOPLE, faces, evaluator)
    late = judge(result.images, PEOPLE, faces, evaluator)
    # the exact-scores black-box attack needs about 2,000 queries per person for 15-20 % recognised, 10,000 for 40 %
    assert early.recognised_top1 >= 0.25 and early.template_lineup >= 0.95
    assert late.recognised_top1 >= 0.25 and result.signal.all() and result.finished


def test_coarse_blocks_and_top_pixels_cut_the_leak_at_a_cost_to_the_explanation(softmax, faces, evaluator):
    rates, utility = {}, {}
    for spec in ("gradient:any", "gradient:any+coarse:8", "gradient:any+top_pixels:50"):
        result = invert_with_explanations(ExplainingAPI(softmax, "label", spec), PEOPLE, queries_per_person=100,
                                          progress=False)
        rates[spec] = judge(result.images, PEOPLE, faces, evaluator).recognised_top1
        utility[spec] = explanation_utility(softmax.net, faces.X_test[:20], spec)
    assert utility["gradient:any"] == pytest.approx(1.0)
    assert rates["gradient:any+coarse:8"] < rates["gradient:any"] and rates["gradient:any+top_pixels:50"] < rates["gradient:any"]
    assert 0.4 <= utility["gradient:any+coarse:8"] <= 0.8 and utility["gradient:any+top_pixels:50"] <= 0.4


def test_noise_on_the_map_does_not_stop_the_attack(softmax, faces, evaluator):
    noisy = invert_with_explanations(ExplainingAPI(softmax, "label", "gradient:any+noisy:1"), PEOPLE,
                                     queries_per_person=100, progress=False)
    assert judge(noisy.images, PEOPLE, faces, evaluator).recognised_top1 >= 0.25  # steps average the noise out


def test_top_class_only_slows_the_attack_and_a_heat_map_gives_it_nothing(softmax, faces, evaluator):
    top = invert_with_explanations(ExplainingAPI(softmax, "label", "gradient"), PEOPLE, queries_per_person=100,
                                   snapshots=(10,), progress=False)
    assert "until the target was on top" in top.strategy
    assert judge(top.snapshots[10], PEOPLE, faces, evaluator).recognised_top1 <= 0.15  # first it must reach the top
    api = ExplainingAPI(softmax, "label", "saliency:any")
    heat = invert_with_explanations(api, PEOPLE, queries_per_person=100, progress=False)
    assert heat.stopped.startswith("the explanation is a heat map without signs") and heat.stalled == len(PEOPLE)
    assert api.queries == len(PEOPLE) and np.ptp(heat.images) == 0  # one look each, then it stops; drawn as no signal


def test_the_service_explains_only_to_a_role_given_explanations_and_logs_and_counts_it(softmax, faces, evaluator,
                                                                                      tmp_path):
    """Over HTTP on 127.0.0.1: the explanation is a field of predict, audited like every answer, counted as queries."""
    from lab_helpers.defences import ROLES, AccessPolicy, RateLimit, Role, read_requests
    from lab_helpers.service import HttpModelAPI, ModelService, face_endpoint, post_raw, start_server
    from lab_helpers.service.client import ApiError

    roles = dict(ROLES) | {"partner": Role("partner", ROLES["public"].outputs, RateLimit(500, 6_000, 100_000),
                                           explanations=("gradient:any+coarse:8", "saliency"))}
    policy = AccessPolicy(roles=roles)
    partner, public = policy.issue_key("partner", "partner"), policy.issue_key("public", "public")
    path = tmp_path / "explain.sqlite"
    with start_server(ModelService([face_endpoint(softmax)], policy, path)) as server:
        refused = post_raw(server.url, public, "faces", {"inputs": [faces.X_test[0].tolist()], "explain": "saliency"})
        assert refused["status"] == 403 and "may not ask for explanation" in refused["error"]
        other = post_raw(server.url, partner, "faces", {"inputs": [faces.X_test[0].tolist()], "explain": "gradient:any"})
        assert other["status"] == 403 and "allowed: gradient:any+coarse:8, saliency" in other["error"]
        with HttpModelAPI(server.url, partner, "faces", explanation="gradient:any+coarse:8") as client:
            result = invert_with_explanations(client, PEOPLE[:4], queries_per_person=5, progress=False)
            labels, explained, maps = client.explain(faces.X_test[:2], classes=[7])
        assert client.queries == 4 * 5 + 2 and (explained == 7).all() and maps.shape == (2, 4096)
        local = ExplainingAPI(softmax, "label", "gradient:any+coarse:8").explain(faces.X_test[:2], classes=[7])[2]
        assert np.allclose(maps, local, rtol=1e-4, atol=1e-7)  # the same map as in process
    assert result.signal.all()
    log = read_requests(path)
    answered = log[(log["status"] == 200) & (log["endpoint"] == "predict")]
    assert (answered["output"] == "label+gradient:any+coarse:8").all() and answered["n_inputs"].sum() == 22


def test_invert_runs_the_explanation_guided_attack_and_bad_spellings_say_what_is_valid(tmp_path):
    import json
    import subprocess
    import sys
    from pathlib import Path

    kit = Path(__file__).resolve().parent.parent
    run = subprocess.run([sys.executable, "-m", "lab_helpers", "invert", "--attack", "explanation-guided", "--output",
                          "gradient:any", "--queries", "10", "--people", "0-3", "--quiet"],
                         capture_output=True, text=True, timeout=300, cwd=kit)
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    assert summary["attack"] == "explanation-guided" and summary["queries_per_person"] == 10
    assert "for any class the caller names" in summary["output"] and summary["template_lineup"] >= 0.75
    bad = subprocess.run([sys.executable, "-m", "lab_helpers", "invert", "--output", "gradient:every", "--quiet"],
                         capture_output=True, text=True, timeout=300, cwd=kit)
    assert bad.returncode == 2 and "Valid: METHOD" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    from lab_helpers.evaluation import run_inversion  # the other refusals, in process: the same one-line messages

    for settings, words in ((dict(attack="explanation-guided", output="label"), "needs an explanation as --output"),
                            (dict(output="saliency"), "use --attack explanation-guided")):
        with pytest.raises(ValueError, match=words):
            run_inversion(**settings, queries_per_person=1, people=[0], progress=False)


@pytest.mark.slow
def test_lab_04s_explanation_table_agrees_with_its_words(softmax, faces, evaluator):
    """Lab 04 section 5: 'about a third after 10 queries', top class slower, no signal from the heat map, noise does
    nothing, blocks and top pixels cut the leak at a cost to the map."""
    from lab_helpers.evaluation import explanation_table

    t = explanation_table(softmax, faces, evaluator)
    best = t.loc["gradient:any"]
    assert 0.25 <= best["recognised at 10"] <= 0.45 and best["recognised at 100"] >= 0.25
    assert best["recognised at 10"] > 0.175  # exact scores at 2,000 queries per person (section 2's naive attacker)
    assert t.loc["gradient", "recognised at 10"] < best["recognised at 10"]
    assert not t.loc["saliency:any", "signal"] and t["signal"].drop("saliency:any").all()
    assert t.loc["gradient:any+noisy:1", "recognised at 100"] >= best["recognised at 100"] - 0.1
    for spec in ("gradient:any+coarse:8", "gradient:any+top_pixels:50"):
        assert t.loc[spec, "recognised at 100"] <= best["recognised at 100"] - 0.1 and t.loc[spec, "utility"] < 0.8


@pytest.mark.slow
def test_the_explanation_table_is_measured_once_per_model_judge_and_settings(softmax, faces, evaluator, monkeypatch,
                                                                            tmp_path):
    """Lab 04 shows the table twice (the panel and section 5) and the suite runs lab 04 several times: measured once,
    then read from data/cache/lab04/; another judge, or a model the kit did not train, is measured again."""
    import pandas as pd

    from lab_helpers.evaluation import explanation_leak

    first = explanation_leak.explanation_table(softmax, faces, evaluator, settings=("gradient:any",), budgets=(10,))
    measured = []
    real = explanation_leak._explanation_rows
    monkeypatch.setattr(explanation_leak, "_explanation_rows", lambda *a: measured.append(a) or real(*a))
    again = explanation_leak.explanation_table(softmax, faces, evaluator, settings=("gradient:any",), budgets=(10,))
    pd.testing.assert_frame_equal(first, again)
    assert measured == []  # from the cache
    monkeypatch.setattr(type(evaluator), "fingerprint", lambda self: "another-judge")
    monkeypatch.setenv("LAB_CACHE_DIR", str(tmp_path))  # the other judge's table is not kept in data/cache/
    explanation_leak.explanation_table(softmax, faces, evaluator, settings=("gradient:any",), budgets=(10,))
    assert len(measured) == 1


def test_a_heat_maps_size_tells_members_apart_and_only_normalising_it_stops_that(softmax, faces):
    """Shokri et al. 2021 on lab 03's target: label plus a heat map leaks membership almost as much as probabilities."""
    from lab_helpers.evaluation import explanation_membership

    t = explanation_membership(softmax, faces, ("saliency", "saliency+coarse:8", "saliency+noisy:1",
                                                "saliency+normalised"))["advantage"]
    assert t["label only (right or wrong)"] <= 0.1 and t["probabilities (true class's score)"] >= 0.35
    assert t["label + saliency"] >= t["probabilities (true class's score)"] - 0.05  # about as much as the scores
    assert min(t["label + saliency+coarse:8"], t["label + saliency+noisy:1"]) >= t["label + saliency"] - 0.05
    assert t["label + saliency+normalised"] <= t["label only (right or wrong)"] + 0.05
    assert parse_explanation("gradient:any+normalised").spelling() == "gradient:any+normalised"


def test_explanations_have_a_quota_of_their_own_that_survives_a_restart(softmax, tmp_path):
    """A separate, smaller quota for explanations: over it, explained requests get 429 (their queries not charged),
    plain answers go on; a restart on the same log remembers what was explained today."""
    from lab_helpers.defences import ROLES, AccessPolicy, RateLimit, Role
    from lab_helpers.service import ModelService, face_endpoint, post_raw, start_server

    with pytest.raises(ValueError, match="explanations_per_day must be a whole number"):
        Role("x", ROLES["public"].outputs, RateLimit(), explanations=("saliency",), explanations_per_day=0)
    roles = dict(ROLES) | {"partner": Role("partner", ROLES["public"].outputs, RateLimit(500, 6_000, 100_000),
                                           explanations=("saliency",), explanations_per_day=3)}
    grey = [[0.5] * 4096]
    path = tmp_path / "quota.sqlite"

    def policy():
        p = AccessPolicy(roles=roles)
        return p, p.issue_key("p", "partner")

    p, key = policy()
    with start_server(ModelService([face_endpoint(softmax)], p, path)) as server:
        assert post_raw(server.url, key, "faces", {"inputs": grey * 2, "explain": "saliency"})["status"] == 200
        over = post_raw(server.url, key, "faces", {"inputs": grey * 2, "explain": "saliency"})
        assert over["status"] == 429 and "daily explanation quota of 3" in over["error"]
        assert "without explanations are still allowed" in over["error"]
        assert post_raw(server.url, key, "faces", {"inputs": grey * 5})["status"] == 200
        assert p.used_today("p") == 7 and p.explained_today("p") == 2  # the refused request was not charged
    p, key = policy()
    with start_server(ModelService([face_endpoint(softmax)], p, path)) as server:
        assert p.explained_today("p") == 2
        assert post_raw(server.url, key, "faces", {"inputs": grey * 2, "explain": "saliency"})["status"] == 429
        assert post_raw(server.url, key, "faces", {"inputs": grey, "explain": "saliency"})["status"] == 200
