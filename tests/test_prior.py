"""Lab 08: the attacker with public faces (a face prior), judged honestly, and the training defences against it."""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from lab_helpers.attacks import (
    fit_pca_prior,
    invert_black_box,
    invert_prior_black_box,
    invert_prior_label_only,
    invert_prior_white_box,
    nearest_public,
    public_lookup,
)
from lab_helpers.data import public_private_split
from lab_helpers.evaluation import (
    budget_table,
    defence_table,
    judge_prior,
    prior_lab,
    queries_without_prior,
    run_prior_attack,
)
from lab_helpers.judges import closer_than_public, judge, similarity_to_people
from lab_helpers.service import ApiError, ModelAPI
from lab_helpers.targets import FaceModelSpec

KIT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def lab():
    return prior_lab(progress=False)


def test_public_and_private_people_never_overlap_and_keep_their_numbers(faces):
    private, public = public_private_split(faces)
    assert len(private.people) == len(public.people) == 20
    assert not set(private.people) & set(public.people) and set(private.people) | set(public.people) == set(range(40))
    for part in (private, public):
        assert len(part.X_train) == 7 * 20 and len(part.X_test) == 3 * 20 and part.n_people == 40
        assert set(part.y_train) == set(part.people)
        for p in part.people[:3]:  # the same photos as in the full data, under the same number
            assert np.array_equal(part.X_train[part.y_train == p], faces.X_train[faces.y_train == p])
    with pytest.raises(ValueError, match="n_public must leave people on both sides"):
        public_private_split(faces, n_public=40)


@pytest.mark.slow
def test_judges_on_the_private_people_use_their_own_chance_levels(lab):
    photos = lab.private.X_test[::3]
    verdict = judge(photos, lab.private.y_test[::3], lab.private, lab.evaluator)
    assert verdict.chance_top1 == pytest.approx(1 / 20) and verdict.chance_top5 == pytest.approx(5 / 20)
    assert verdict.recognised_top1 >= 0.8 and verdict.template_correlation >= 0.8
    sims = similarity_to_people(photos, lab.private)
    assert np.isinf(sims[:, lab.public.people]).all()  # a public person is never a candidate
    predicted = lab.evaluator.top_k(lab.public.X_test, 3)
    assert set(predicted.ravel()) <= set(lab.private.people)  # the evaluator only knows the private people
    assert 0.8 <= lab.evaluator.test_accuracy <= 1.0


def test_a_face_the_attacker_already_held_scores_zero_on_the_closer_than_public_check(lab):
    photos = lab.private.X_test[::3]
    assert closer_than_public(photos, lab.private.y_test[::3], lab.private, lab.public, lab.evaluator) == 1.0
    held = nearest_public(photos, lab.public)  # the public photo nearest each private one
    assert closer_than_public(held, lab.private.y_test[::3], lab.private, lab.public, lab.evaluator) == 0.0


@pytest.mark.slow
def test_the_priors_draw_faces_from_public_photos_only(lab):
    pca, gen = lab.pca, lab.generator
    assert pca.dim == 60 and 0.8 <= pca.explained <= 0.95 and gen.dim == 32
    for prior in (pca, gen):
        z = prior.sample(5, seed=3)
        images = prior.decode(z)
        assert images.shape == (5, 4096) and images.min() >= 0 and images.max() <= 1
        assert np.ptp(images, axis=1).min() > 0.2  # faces, not flat grey
        back = prior.decode(prior.encode(lab.private.X_test[:5]))
        assert np.abs(back - lab.private.X_test[:5]).mean() < 0.1  # a private face, drawn roughly
    assert fit_pca_prior(lab.public).mean.shape == (4096,)
    with pytest.raises(ValueError, match="dim must be from 1"):
        fit_pca_prior(lab.public, dim=1_000)


def test_prior_attacks_count_every_query_and_stay_in_budget(lab):
    api = lab.api()
    ids = lab.people[:4]
    rec = invert_prior_black_box(api, lab.pca, ids, queries_per_person=300, progress=False, checkpoints=(50, 100))
    assert api.queries == 4 * 300 == rec.queries.sum() and set(rec.snapshots) == {50, 100}
    assert rec.signal.all() and rec.images.shape == (4, 64, 64)
    labels = lab.api("label")
    rec = invert_prior_label_only(labels, lab.pca, ids, queries_per_person=300, progress=False)
    assert labels.queries == rec.queries.sum() and rec.queries.max() <= 300
    white = invert_prior_white_box(lab.target, lab.pca, ids, iterations=50, progress=False)
    assert (white.queries == 0).all()
    with pytest.raises(ValueError, match="queries_per_person"):
        invert_prior_black_box(lab.api(), lab.pca, ids, queries_per_person=5, progress=False)


class _Refusing:
    """A client that answers `limit` queries, then refuses every request (a key suspended mid-attack)."""

    def __init__(self, api, limit: int):
        self.api, self.limit = api, limit

    def _check(self, x) -> None:
        if self.api.queries + len(np.atleast_2d(x)) > self.limit:
            raise ApiError(403, "this key is suspended")

    def query(self, x):
        self._check(x)
        return self.api.query(x)

    def answer(self, x):
        self._check(x)
        return self.api.answer(x)


def test_a_stopped_prior_attack_keeps_the_faces_it_had_and_says_why(lab):
    ids = lab.people[:4]
    for attack, output in ((invert_prior_black_box, "probabilities"), (invert_prior_label_only, "label")):
        inner = lab.api(output)
        with pytest.raises(ApiError):  # without stop_on, a refusal is an error, as before
            attack(_Refusing(inner, 250), lab.pca, ids, queries_per_person=300, progress=False)
        inner = lab.api(output)
        rec = attack(_Refusing(inner, 250), lab.pca, ids, queries_per_person=300, progress=False, stop_on=(ApiError,))
        assert rec.stopped.startswith("HTTP 403") and inner.queries <= 250 and rec.images.shape == (4, 64, 64)
        assert np.isfinite(rec.images).all() and rec.signal.any()  # faces it had, for people it had a signal for
        full = attack(lab.api(output), lab.pca, ids, queries_per_person=300, progress=False, stop_on=(ApiError,))
        assert full.stopped == "" and full.queries.max() <= 300


@pytest.mark.slow
def test_with_a_prior_the_black_box_attack_beats_pixels_and_the_public_lookup_at_1000_queries(lab):
    pixels = judge_prior(invert_black_box(lab.api(), lab.people, queries_per_person=1_000, progress=False).images, lab)
    direct = invert_prior_black_box(lab.api(), lab.pca, lab.people, queries_per_person=1_000, progress=False)
    eigen = judge_prior(direct.images, lab)
    # the lab reads this run off the budget table's longer one (run once): the same images and the same counts
    read = run_prior_attack(lab, "black-box", "pca", 1_000)
    assert np.array_equal(read.images, direct.images) and np.array_equal(read.queries, direct.queries)
    assert np.array_equal(read.signal, direct.signal) and not read.snapshots
    lookup = judge_prior(public_lookup(lab.api(), lab.public, lab.people).images, lab)
    closer = "closer than any public face"
    # lab 08's words at 1,000 queries per person: the eigenface attack is ahead of the pixel attack by both strict
    # judges (measured 35 % and 35 % against 25 % and 25 %; chance 5 %), and the lookup scores 0 on the closer check
    assert eigen["evaluator top-1"] >= 0.2 and eigen[closer] >= 0.2 and lookup[closer] == 0.0
    assert eigen["evaluator top-1"] + eigen[closer] >= pixels["evaluator top-1"] + pixels[closer] + 0.1
    assert lookup["evaluator top-1"] >= 0.1  # some public people look like private ones
    assert pixels["lineup"] >= eigen["lineup"]  # the pixel-based judges favour the template


@pytest.mark.slow
def test_the_cost_curve_and_what_the_prior_saves(lab):
    curve = budget_table(lab, progress=False)
    attacks = set(curve["attack"])
    assert {"MI-FACE (no prior)", "eigenfaces prior", "generator prior", "public lookup (no inversion)"} == attacks
    furthest = curve.groupby("attack")["queries per person"].max()
    assert (furthest["generator prior"], furthest["eigenfaces prior"], furthest["MI-FACE (no prior)"]) == (1_000, 3_000, 10_000)
    # lab 08: what the eigenface attack gets at 1,000 queries per person costs the pixel attack "about five
    # times as many" (measured about 4,500 on the closer check and 5,500 on the evaluator)
    for judge in ("closer than any public face", "evaluator top-1"):
        needed = queries_without_prior(curve, judge)
        assert needed is not None and 2_000 <= needed <= 10_000, (judge, needed)
    # ... and with enough queries the pixel attack goes further than the prior, which levels off
    pixels = curve[curve["attack"] == "MI-FACE (no prior)"].set_index("queries per person")
    eigen = curve[curve["attack"] == "eigenfaces prior"]
    assert pixels.loc[10_000, "evaluator top-1"] >= eigen["evaluator top-1"].max()
    with pytest.raises(ValueError, match="no 'eigenfaces prior' row at 500"):
        queries_without_prior(curve, "lineup", budget=500)


@pytest.mark.slow
def test_training_defences_against_the_prior_attacker(lab):
    table = defence_table(lab, progress=False)
    base = table.iloc[0]
    closer = "black-box: closer than any public face"
    transfer = table.loc["transfer learning (public features, frozen)"]
    # lab 08's verdicts: transfer learning cuts the attacker most among usable defences, at a few points of accuracy
    assert transfer[closer] <= base[closer] - 0.1 and transfer["test accuracy"] >= 0.9
    assert 0.04 <= base["test accuracy"] - transfer["test accuracy"] <= 0.10  # "about seven points of accuracy"
    usable = table[table["test accuracy"] >= 0.9]
    assert usable[closer].idxmin() == "transfer learning (public features, frozen)"
    for name in ("no weight decay (overfit)", "early stopping (60 epochs)", "label smoothing +0.1",
                 "label smoothing -0.05 (negative)"):
        assert abs(table.loc[name, closer] - base[closer]) <= 0.1  # "barely move this attacker"
    assert table.loc["DP-SGD, ε = 10", "test accuracy"] < 0.85 and table.loc["DP-SGD, ε = 1", "test accuracy"] < 0.5


def test_check_prior_defence(lab, capsys):
    from lab_helpers.ui import check_prior_defence, placeholder

    table = defence_table(lab, progress=False)
    assert check_prior_defence("transfer learning (public features, frozen)", table, 0.9)
    assert not check_prior_defence("DP-SGD, ε = 1", table, 0.9)
    assert not check_prior_defence("baseline (weight decay, 300 epochs)", table, 0.9)
    assert not check_prior_defence("magic", table, 0.9)
    assert not check_prior_defence(placeholder(None, "x"), table, 0.9)
    out = capsys.readouterr().out
    assert "below the floor" in out and "not a row" in out and "Nothing to check yet" in out


def test_default_model_cache_keys_did_not_change():
    spec = FaceModelSpec()
    old = {k: v for k, v in asdict(spec).items() if k not in ("people", "label_smoothing", "transfer")}
    digest = hashlib.sha1(json.dumps(old, sort_keys=True).encode()).hexdigest()[:10]
    assert spec.key() == f"softmax-e1000-wd0-{digest}"


def test_the_model_card_adds_the_prior_attacker_for_a_model_of_some_people(lab, faces):
    from lab_helpers.governance import Candidate, measures_for
    from lab_helpers.targets import train_face_model

    private = Candidate("private", lab.target, lab.private, "probabilities")
    everyone = Candidate("all", train_face_model(faces, "softmax", progress=False), faces, "probabilities")
    assert "lab08-prior-black-box" in [m.key for m in measures_for(private)]
    assert "lab08-prior-black-box" not in [m.key for m in measures_for(everyone)]
    leak = next(m for m in measures_for(private) if m.key == "lab08-prior-black-box").run(private)
    assert 0.2 <= leak.value <= 0.6 and leak.details["queries"] == 20 * 1_000


@pytest.mark.slow
def test_invert_command_runs_the_prior_attacks(tmp_path):
    out = tmp_path / "eigen.npz"
    run = subprocess.run([sys.executable, "-m", "lab_helpers", "invert", "--target", "private", "--attack",
                          "prior-black-box", "--prior", "pca", "--queries", "300", "--people", "1,2,5",
                          "--out", str(out), "--quiet"], capture_output=True, text=True, timeout=600, cwd=KIT)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["people"] == [1, 2, 5] and result["queries_per_person"] == 300 and "closer_than_public" in result
    saved = np.load(out)
    assert saved["images"].shape == (3, 64, 64) and saved["identities"].tolist() == [1, 2, 5]
    for args, says in ((["--attack", "prior-black-box"], "needs --target private"),
                       (["--target", "private", "--attack", "prior-black-box", "--prior", "gan"], "valid priors"),
                       (["--target", "private", "--people", "0"], "not enrolled")):
        bad = subprocess.run([sys.executable, "-m", "lab_helpers", "invert", *args, "--quiet"], capture_output=True,
                             text=True, timeout=600, cwd=KIT)
        assert bad.returncode == 2 and says in bad.stderr and "Traceback" not in bad.stderr
