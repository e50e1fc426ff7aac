"""The probing detector on real attack queries and on ordinary synthetic traffic, without a server."""
from __future__ import annotations

import functools
from collections import Counter

import numpy as np
import pandas as pd
import pytest

from lab_helpers.service import ModelAPI
from lab_helpers.defences import keyed_digest
from lab_helpers.targets import train_face_model
from lab_helpers.attacks import invert_black_box
from lab_helpers.defences import AdaptiveDetector, BaselineDetector
from lab_helpers.defences import Detector, detection_summary, first_flag, sketch_images, sketch_records
from lab_helpers.service import camera_frames, clinician_user, dashboard_user, ordinary_traffic, role_of
from lab_helpers.service import Gateway, benign_patterns, watch_traffic
from lab_helpers.defences.monitoring import thumbnails
from lab_helpers.attacks import attribute_inference, make_api
from lab_helpers.data import load_people
from lab_helpers.targets import train_tabular_model


@pytest.fixture(scope="module")
def people():
    return load_people("healthcare")


@pytest.fixture(scope="module")
def forest(people):
    return train_tabular_model(people, name="overfit")


@pytest.fixture(scope="module")
def face_model(faces):
    return train_face_model(faces, "softmax", progress=False)


digest = functools.partial(keyed_digest, b"a test key")


class WatchedAPI:
    """A ModelAPI whose every answered batch goes through a detector, as the service does."""

    def __init__(self, api: ModelAPI, detector: Detector, kind: str, columns=None, output="probabilities"):
        self.api, self.detector, self.kind, self.columns, self.output = api, detector, kind, columns, output
        self.alerts = []

    @property
    def queries(self):
        return self.api.queries

    def query(self, x):
        answer = self.api.query(x)
        if self.kind == "image":
            sketches = sketch_images(np.asarray(x))
        else:
            frame = pd.DataFrame([x]) if isinstance(x, dict) else pd.DataFrame(x)
            sketches = sketch_records(frame[self.columns].to_dict("records"), self.columns, digest)
        for start in range(0, len(sketches), 100):  # requests of 100, as the HTTP client sends them
            self.alerts += self.detector.observe("attacker", 0.0, self.kind, sketches[start:start + 100], self.output)
        return answer


def test_image_sketches_are_close_for_near_duplicates_and_far_for_other_photos(faces):
    x = faces.X_train[:1]
    near = np.clip(x + 0.01 * np.random.default_rng(0).standard_normal(x.shape), 0, 1)
    t = thumbnails(sketch_images(np.concatenate([x, near, faces.X_train[7:8]])))
    assert t.shape == (3, 64) and np.abs(t[0] - t[1]).mean() < 1.0 and np.abs(t[0] - t[2]).mean() > 5
    frames = thumbnails(sketch_images(camera_frames(faces, np.full(6, 3), np.random.default_rng(0))))
    gaps = np.abs(frames[:, None] - frames[None]).mean(2)[~np.eye(6, dtype=bool)]
    assert gaps.min() > 3.0  # the detector's threshold: camera frames of one person are not near-duplicates


def test_record_sketches_show_which_field_changed_not_its_value(people):
    cols = people.features
    a = people.frame[cols].iloc[0].to_dict()
    b = {**a, "vkorc1_genotype": "AA" if a["vkorc1_genotype"] != "AA" else "GG"}
    sa, sb = (s.split(".") for s in sketch_records([a, b], cols, digest))
    assert len(sa) == len(cols) and sum(x != y for x, y in zip(sa, sb)) == 1
    assert a["vkorc1_genotype"] not in ".".join(sa)
    assert sketch_records([{**a, "age": 70}], cols, digest) == sketch_records([{**a, "age": 70.0}], cols, digest)


def test_black_box_mi_face_trips_the_near_duplicate_rule_within_its_first_request(face_model):
    watched = WatchedAPI(ModelAPI(face_model.predict_proba, input_size=4096), Detector(), "image")
    invert_black_box(watched, identities=[0, 1], queries_per_person=400, progress=False)
    first = watched.alerts[0]
    assert first.rule == "near_duplicates" and first.queries == 100


def test_attribute_inference_trips_the_sweep_rule_soon_after_the_first_candidate(people, forest):
    api = make_api(forest.model, people)
    watched = WatchedAPI(api, Detector(), "record", columns=people.features)
    attribute_inference(watched, people, "members", n_people=200)
    sweep = [a for a in watched.alerts if a.rule == "one_attribute_sweep"]
    assert len(sweep) == 1 and 200 + 30 <= sweep[0].queries <= 200 + 100  # after the first 200 records + 30 variants


def test_heavy_scores_counts_score_answers_in_any_24_hours():
    detector = Detector(max_scores_per_day=1_000)
    sketch = ["00" * 64]
    assert not any(detector.observe("a", float(i), "other", sketch * 100, "label") for i in range(20))
    fired = [detector.observe("b", float(i), "other", sketch * 100, "rounded") for i in range(12)]
    assert [len(f) for f in fired].index(1) == 10 and fired[10][0].queries == 1_100
    spaced = [detector.observe("c", i * 86_400.0, "other", sketch * 900, "probabilities") for i in range(5)]
    assert not any(spaced)  # 900 a day never adds up to 1,000 in 24 hours


def test_each_rule_alerts_once_per_key():
    detector = Detector(max_scores_per_day=10)
    alerts = [a for i in range(5) for a in detector.observe("k", float(i), "other", ["00" * 64] * 20, "rounded")]
    assert len(alerts) == 1


@pytest.mark.parametrize("kwargs", [dict(near_duplicate_share=0), dict(near_duplicate_share=1.5), dict(sweep_count=0),
                                    dict(max_scores_per_day=2.5)])
def test_bad_detector_settings_say_what_is_wrong(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        Detector(**kwargs)


def test_ordinary_users_raise_no_alert(faces, people):
    """False alarms on a simulated working day: door cameras, clinicians, a ward dashboard."""
    detector = Detector()
    events = ordinary_traffic(faces, people, start=0.0, clinicians=3, n_requests=120, seed=1)
    assert {role_of(e.user) for e in events} == {"public", "analyst"}
    alerts = []
    for e in events:
        if e.model == "faces":
            sketches, kind = sketch_images(e.inputs), "image"
        else:
            sketches, kind = sketch_records(e.inputs, people.features, digest), "record"
        output = "label" if role_of(e.user) == "public" else "rounded"
        alerts += detector.observe(e.user, e.time, kind, sketches, output)
    assert alerts == []
    assert len({e.user for e in events}) == 7 and max(e.time for e in events) < 12 * 3600


def test_ordinary_traffic_is_realistic(faces, people):
    clinician = clinician_user(people, "c", 0.0, n_requests=200, seed=3)
    sizes = [len(e.inputs) for e in clinician]
    assert set(sizes) <= {1, 2, 3} and all(b.time > a.time for a, b in zip(clinician, clinician[1:]))
    ward = dashboard_user(people, "d", 0.0)
    assert len(ward) == 96 and all(len(e.inputs) == 25 for e in ward)
    changed = [len({tuple(sorted(r.items())) for r in a.inputs} ^ {tuple(sorted(r.items())) for r in b.inputs})
               for a, b in zip(ward, ward[1:])]
    assert max(changed) <= 2  # one patient out, one in, per refresh


def test_first_flag_and_summary_on_a_small_log():
    requests = pd.DataFrame({"id": range(6), "time": [0, 1, 2, 0, 600, 1200], "key_id": ["a"] * 3 + ["b"] * 3,
                             "status": [200] * 6, "endpoint": ["predict"] * 6, "n_inputs": [100, 100, 100, 5, 5, 5],
                             "output": ["label"] * 6})

    def rule(history):
        recent = history[history["time"] >= history["time"].iloc[-1] - 600]
        return recent["n_inputs"].sum() > 150

    assert first_flag(rule, requests, "a") == 200 and first_flag(rule, requests, "b") is None
    alerts = pd.DataFrame({"key_id": ["a"], "rule": ["near_duplicates"], "queries": [100]})
    summary = detection_summary(requests, alerts, attackers=["a"]).set_index("key")
    assert summary.loc["a", "queries until alert"] == 100 and summary.loc["a", "attacker"]
    assert pd.isna(summary.loc["b", "first alert"]) and summary.loc["b", "queries"] == 15


def test_notebook_day_of_ordinary_traffic_raises_no_alert(faces, people):
    """Seed 0 is the notebook's day: no false alarm there either."""
    detector, alerts = Detector(), []
    for e in ordinary_traffic(faces, people, start=0.0, seed=0):
        image = e.model == "faces"
        sketches = sketch_images(e.inputs) if image else sketch_records(e.inputs, people.features, digest)
        alerts += detector.observe(e.user, e.time, "image" if image else "record", sketches,
                                   "label" if role_of(e.user) == "public" else "rounded")
    assert alerts == []


def test_self_checks_for_the_two_exercises(capsys):
    from lab_helpers.defences import RateLimit
    from lab_helpers.ui import check_detection_rule, check_rate_limit, placeholder

    attack = pd.DataFrame({"id": range(10), "time": np.arange(10.0), "key_id": ["m"] * 10, "status": 200,
                           "endpoint": "predict", "n_inputs": 100, "output": "probabilities"})
    ordinary = pd.DataFrame({"id": range(20), "time": np.arange(20) * 300.0, "key_id": ["u1", "u2"] * 10,
                             "status": 200, "endpoint": "predict", "n_inputs": 3, "output": "label"})

    def speed_rule(history):
        return history.loc[history["time"] >= history["time"].iloc[-1] - 600, "n_inputs"].sum() > 500

    assert check_detection_rule(speed_rule, attack, ordinary, ["m"])
    assert "flagged after 600 queries" in capsys.readouterr().out
    assert not check_detection_rule(placeholder(lambda history: False, "x"), attack, ordinary, ["m"])
    assert not check_detection_rule(lambda history: True, attack, ordinary, ["m"])  # flags everyone
    assert "2 of 2" in capsys.readouterr().out
    assert not check_detection_rule(lambda history: history["nope"].sum() > 0, attack, ordinary, ["m"])
    assert "raised KeyError" in capsys.readouterr().out

    assert check_rate_limit(RateLimit(burst=25, per_minute=6, per_day=3_000), 80_000)
    assert not check_rate_limit(RateLimit(burst=100, per_minute=600, per_day=100_000), 80_000)  # the placeholder
    assert not check_rate_limit(RateLimit(burst=20, per_minute=6, per_day=3_000), 80_000)  # batch 25 > burst 20
    assert "413" in capsys.readouterr().out
    assert not check_rate_limit(None, 80_000)


# ---------------------------------------------------------------- benign patterns, and the adaptive detector

PATTERNS = ("fixed camera", "retrying app", "24/7 dashboard", "drifting monitor")
BASELINE_FLAGS = {"fixed camera": "near_duplicates", "retrying app": "near_duplicates",
                  "24/7 dashboard": "heavy_scores", "drifting monitor": "one_attribute_sweep"}


def test_the_baseline_detector_is_the_default_detector():
    assert Detector is BaselineDetector


def test_benign_patterns_are_what_they_say(faces, people):
    patterns = benign_patterns(faces, people, start=0.0, seed=0)
    assert set(patterns) == set(PATTERNS)
    camera = patterns["fixed camera"]
    assert len(camera) == 24 * 60 and np.allclose(np.diff([e.time for e in camera]), 60)
    t = thumbnails(sketch_images(np.concatenate([e.inputs for e in camera[:60]])))
    assert np.abs(t[1:] - t[:-1]).mean(axis=1).max() < 3.0  # near-identical to the baseline's eye
    app = patterns["retrying app"]
    sent = Counter(e.inputs.tobytes() for e in app)
    assert min(sent.values()) >= 2 and len(app) > len(sent)  # every photo is sent again, byte for byte
    ward = patterns["24/7 dashboard"]
    assert len(ward) == 288 and ward[-1].time - ward[0].time > 23 * 3600
    monitor = patterns["drifting monitor"]
    changed = [{c for c in people.features if a.inputs[i][c] != b.inputs[i][c]}
               for a, b in zip(monitor, monitor[1:]) for i in range(len(a.inputs))]
    assert set().union(*changed) == {"systolic_bp"} and sum(map(bool, changed)) > 100
    assert {role_of(e.user) for p in patterns.values() for e in p} == {"public", "analyst"}


@pytest.mark.slow
@pytest.mark.parametrize("pattern", PATTERNS)
def test_each_benign_pattern_trips_the_baseline_but_not_the_adaptive_detector(faces, people, face_model, pattern):
    """Three seeds of 24 hours each: today's detector raises its false alarm every time, the adaptive one never."""
    for seed in range(3):
        events = benign_patterns(faces, people, start=0.0, seed=seed)[pattern]
        baseline = watch_traffic(events, BaselineDetector(), face_model, people).alerts
        adaptive = watch_traffic(events, AdaptiveDetector(), face_model, people).alerts
        assert [a["rule"] for a in baseline] == [BASELINE_FLAGS[pattern]]
        assert adaptive == []


@pytest.mark.slow
def test_a_day_of_ordinary_traffic_with_the_benign_patterns_raises_no_adaptive_alarm(faces, people, face_model):
    for seed in (0, 1):
        events = ordinary_traffic(faces, people, start=0.0, seed=seed, patterns=True)
        assert len({e.user for e in events}) == 10
        baseline = watch_traffic(events, BaselineDetector(), face_model, people)
        adaptive = watch_traffic(events, AdaptiveDetector(), face_model, people)
        flagged = {a["key_id"] for a in baseline.alerts}
        assert flagged == {"camera-fixed", "app-checkin", "ward-dashboard-24h", "monitor-bed-4"}
        assert adaptive.alerts == [] and (adaptive.requests()["status"] == 200).all()


def test_adaptive_detector_flags_the_lab_02_sweep_by_the_people_swept(people, forest):
    gateway = Gateway(AdaptiveDetector())
    watched = gateway.key("eve", make_api(forest.model, people), "record", people.features)
    attribute_inference(watched, people, "members", n_people=200)
    alerts = gateway.alert_frame()
    assert list(alerts["rule"]) == ["swept_people"]
    assert 200 + 30 <= alerts["queries"].iloc[0] <= 200 + 100  # after the first 200 records + 30 people swept


def test_identity_focus_counts_new_scored_answers_per_identity_per_key_and_across_keys():
    detector = AdaptiveDetector(identity_per_day=100, cloud_size=10_000)
    rng = np.random.default_rng(0)

    def images(n):
        return sketch_images(rng.uniform(0, 1, (n, 4096)))  # all different, far apart

    assert detector.observe("a", 0.0, "image", images(99), "rounded", labels=["7"] * 99, source="s") == []
    again = detector.observe("a", 1.0, "image", images(99), "label", labels=["7"] * 99, source="s")
    assert again == []  # labels-only answers are not counted
    repeat = ["ab" * 64] * 50
    assert detector.observe("b", 2.0, "image", repeat, "rounded", labels=["7"] * 50, source="s") == []  # 1 new
    fired = detector.observe("c", 3.0, "image", images(120), "rounded", labels=["7"] * 120, source="s")
    per_key = {(a.key_id, a.rule) for a in fired}
    assert ("c", "identity_focus") in per_key and ("a", "identity_focus") in per_key  # 220 >= 200 across keys
    assert ("b", "identity_focus") not in per_key  # one new answer: not named
    later = detector.observe("a", 3.0 + 86_400, "image", images(10), "rounded", labels=["7"] * 10, source="s")
    assert later == []  # a day later the count starts again, and each rule alerts once per key anyway


@pytest.mark.parametrize("kwargs", [{"identity_per_day": 0}, {"cloud_radius": -1.0}, {"cloud_follow": 0},
                                    {"min_share": 1.5}, {"swept_people": 2.5}, {"source_factor": 0}])
def test_bad_adaptive_settings_say_what_is_wrong(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        AdaptiveDetector(**kwargs)


def test_what_the_old_logs_thumbnails_gave_a_thief_matches_lab_06s_words(faces, evaluator):
    """Lab 06, 'the log is a data store too': about one person in six named from an 8x8 thumbnail, lineup almost always."""
    from lab_helpers.judges import judge

    photos = faces.X_test
    up = np.kron(thumbnails(sketch_images(photos)).reshape(-1, 8, 8) / 255, np.ones((8, 8))).reshape(len(photos), -1)
    verdict = judge(up, faces.y_test, faces, evaluator)
    assert 0.10 <= verdict.recognised_top1 <= 0.25 and verdict.template_lineup >= 0.85
