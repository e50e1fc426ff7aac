"""The attacker who adapts to the output control, the black-box attack that never stalls silently, and `invert`."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lab_helpers.attacks import invert_black_box
from lab_helpers.attacks.adaptive import invert_adaptive, observe_output
from lab_helpers.defences.output_policies import parse_policy
from lab_helpers.judges import judge
from lab_helpers.service import ModelAPI

KIT = Path(__file__).resolve().parent.parent
PEOPLE = np.arange(40)
BUDGET = 2_000  # queries per person, as in lab 04's panel


def api_for(model, spec: str) -> ModelAPI:
    return ModelAPI(model.predict_proba, parse_policy(spec), input_size=4096)


@pytest.mark.parametrize("spec, kind, shown, decimals", [
    ("probabilities", "probabilities", 40, None), ("noisy:0.01", "noisy", None, None), ("rounded:4", "rounded", None, 4),
    ("rounded:2", "rounded", None, 2), ("rounded:1", "rounded", None, 1), ("top_k:3", "top_k", 3, None),
    ("top_k:10", "top_k", 10, None), ("label_score", "label_score", 1, None), ("label", "label", 1, None)])
def test_the_attacker_learns_the_control_from_a_few_answers(softmax, spec, kind, shown, decimals):
    api = api_for(softmax, spec)
    seen = observe_output(api)
    assert seen.kind == kind and seen.queries == api.queries <= 10
    assert shown is None or seen.shown == shown
    assert decimals is None or seen.decimals == decimals


def test_no_floor_erases_a_small_score_every_person_gets_signal_from_exact_scores(faces, softmax):
    api = api_for(softmax, "probabilities")
    grey = np.full((1, 4096), 0.5, dtype=np.float32)
    tiny = np.flatnonzero(softmax.predict_proba(grey)[0] < 1e-6)
    assert len(tiny)  # some people score below the old 1e-6 floor on the grey start
    rec = invert_black_box(api, PEOPLE, queries_per_person=BUDGET, progress=False)
    assert rec.signal.all() and rec.stalled == 0
    assert np.ptp(rec.images[tiny].reshape(len(tiny), -1), axis=1).min() > 0.01  # their images moved
    from lab_helpers.judges.reconstructions import similarity_to_people

    similarity = similarity_to_people(rec.images[tiny], faces)
    assert (similarity.argmax(axis=1) == tiny).all()  # and each now correlates best with the right person


def test_a_person_without_signal_is_reported_and_left_as_it_started(softmax):
    api = api_for(softmax, "rounded:1")
    rec = invert_black_box(api, PEOPLE, queries_per_person=BUDGET, progress=False, find_signal=False)
    assert rec.stalled >= 30  # rounding to 1 decimal hides almost everyone's score from small probes
    flat = rec.images[~rec.signal].reshape(rec.stalled, -1)
    assert np.allclose(flat, 0.5)  # drawn as the grey it is, not stretched into a face or a black square
    assert (rec.queries == BUDGET).all() and api.queries == rec.queries.sum()


@pytest.mark.slow
@pytest.mark.parametrize("spec", ["noisy:0.05", "rounded:1", "top_k:3", "label_score"])
def test_the_adaptive_attacker_beats_controls_that_stop_the_naive_one(faces, softmax, evaluator, spec):
    naive_api, adaptive_api = api_for(softmax, spec), api_for(softmax, spec)
    naive = invert_black_box(naive_api, PEOPLE, queries_per_person=BUDGET, progress=False, find_signal=False)
    result = invert_adaptive(adaptive_api, PEOPLE, queries_per_person=BUDGET, progress=False)
    rec = result
    before = judge(naive.images, PEOPLE, faces, evaluator)
    after = judge(rec.images, PEOPLE, faces, evaluator)
    assert before.template_lineup <= 0.35  # the naive attacker is near chance (20 %) under this control
    assert after.template_lineup >= 0.55 and after.template_correlation >= 0.3  # the adaptive one is not
    # and its faces are recognised by the strict evaluator, at a contrast a person sees (the boundary attack's)
    assert after.recognised_top1 >= before.recognised_top1 + 0.05 and after.faint <= 2
    assert "boundary attack" in result.strategy
    # within the same budget, every query counted: the attack's per person, the look at the control shared
    assert rec.queries.max() <= BUDGET and adaptive_api.queries == rec.queries.sum() + result.observed.queries == rec.total_queries


def test_scores_only_keeps_the_counter_move_on_the_scores(softmax):
    result = invert_adaptive(api_for(softmax, "rounded:2"), PEOPLE[:4], queries_per_person=600, progress=False,
                             scores_only=True)
    assert "probe radius 32" in result.strategy and result.observed.kind == "rounded"
    exact = invert_adaptive(api_for(softmax, "probabilities"), PEOPLE[:4], queries_per_person=600, progress=False)
    assert "probe radius 0.5" in exact.strategy  # exact scores: climbing them beats the boundary attack


def test_repeating_a_probe_multiplies_the_bill_and_averages_the_noise(softmax):
    api = api_for(softmax, "noisy:0.05")
    rec = invert_black_box(api, PEOPLE[:4], queries_per_person=800, repeats=4, progress=False)
    assert api.queries == 4 * 800 and (rec.queries == 800).all()
    with pytest.raises(ValueError, match="repeats"):
        invert_black_box(api, PEOPLE[:4], queries_per_person=50, repeats=4, progress=False)


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lab_helpers", "invert", *args], capture_output=True, text=True,
                          timeout=300, cwd=KIT)


@pytest.mark.parametrize("args, named", [(["--output", "rounded:-1"], "decimals"), (["--output", "bogus"], "label_score"),
                                         (["--queries", "0"], "--queries"), (["--people", "40"], "0 to 39"),
                                         (["--attack", "grey-box"], "label-only"), (["--target", "cnn"], "softmax")])
def test_invert_refuses_bad_arguments_in_one_line_naming_what_is_valid(args, named, capsys):
    """The command's own entry point, in this process (a subprocess per case only re-imported torch: the refusal
    comes before any model is loaded); the next test runs the real command in a subprocess."""
    from lab_helpers.kit.cli import main

    try:
        code = main(["invert", *args])
    except SystemExit as exit_:  # argparse's refusals (--attack, --target choices) exit
        code = exit_.code
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and named in lines[0], err


@pytest.mark.slow
def test_invert_prints_the_verdict_as_json_and_saves_the_images(tmp_path):
    out = tmp_path / "run.npz"
    result = run_cli("--attack", "adaptive", "--output", "top_k:3", "--queries", "600", "--people", "0-3,9",
                     "--out", str(out))
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["people"] == [0, 1, 2, 3, 9] and record["queries_per_person"] <= 600
    for key in ("recognised_top1", "recognised_top5", "recognised_nearest", "template_lineup", "template_correlation",
                "contrast_grey_levels", "faint", "stalled", "seconds", "queries_total"):
        assert key in record
    saved = np.load(out)
    assert saved["images"].shape == (5, 64, 64) and 0 <= saved["images"].min() and saved["images"].max() <= 1
    assert list(saved["identities"]) == [0, 1, 2, 3, 9] and saved["signal"].dtype == bool
    assert saved["queries_per_person"].max() == record["queries_per_person"]
    assert "%" in result.stderr or "it/s" in result.stderr  # the progress bar goes to standard error
