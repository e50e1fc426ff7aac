"""The synthetic tabular data: seeded, committed as generated, and the sensitive attribute truly drives the target."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lab_helpers.data import CREDIT, FRAMINGS, HEALTHCARE, HIRING, data_card, hidden_score, load_people, make_people, target_shares, write_dataset
from lab_helpers.data.synthetic_people import read_people, split_members

KIT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module", params=list(FRAMINGS))
def table(request) -> tuple:
    spec = FRAMINGS[request.param]
    return spec, make_people(spec)


def test_same_seed_same_table_other_seed_other_table():
    a, b, c = make_people(n=500, seed=3), make_people(n=500, seed=3), make_people(n=500, seed=4)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)


@pytest.mark.parametrize("spec", [HEALTHCARE, CREDIT], ids=["healthcare", "credit"])
def test_committed_files_are_what_the_generator_writes(spec):
    csv, card = KIT / "data" / f"{spec.file_stem}.csv", KIT / "data" / f"{spec.file_stem}.md"
    assert csv.read_text(encoding="utf-8") == make_people(spec).to_csv(index=False, lineterminator="\n"), \
        "regenerate: python -m lab_helpers make-tabular-data"
    assert card.read_text(encoding="utf-8") == data_card(spec)
    assert csv.stat().st_size < 500_000


def test_columns_ranges_and_class_shares(table):
    spec, frame = table
    assert list(frame.columns) == spec.features + [spec.target]
    for col in spec.numeric:
        assert frame[col.name].between(col.low, col.high).all()
    assert set(frame[spec.sensitive.name]) == set(spec.sensitive.values)
    shares = frame[spec.target].value_counts(normalize=True)
    for cls, share in zip(spec.classes, spec.class_shares):
        assert shares[cls] == pytest.approx(share, abs=0.01)
    observed = frame[spec.sensitive.name].value_counts(normalize=True)
    for value, p in spec.prior.items():
        assert observed[value] == pytest.approx(p, abs=0.03)


def test_sensitive_attribute_truly_drives_the_target(table):
    spec, frame = table
    shares = pd.crosstab(frame[spec.sensitive.name], frame[spec.target], normalize="index")
    lowest, highest = spec.classes[0], spec.classes[-1]
    # the value with the largest push sits in the top band far more often than the value with the smallest push
    effects = dict(zip(spec.sensitive.values, spec.sensitive.effects))
    up, down = max(effects, key=effects.get), min(effects, key=effects.get)
    assert shares.loc[up, highest] - shares.loc[down, highest] > 0.4
    assert shares.loc[down, lowest] - shares.loc[up, lowest] > 0.2
    # and the hidden score moves when only the sensitive value changes
    changed = frame.assign(**{spec.sensitive.name: down})
    assert (hidden_score(frame.assign(**{spec.sensitive.name: up}), spec) - hidden_score(changed, spec)).min() > 1.0


def test_each_genotype_leans_to_its_own_dose_band():
    """Lab 01 says: each genotype leans towards its own dose band."""
    shares = target_shares(load_people())
    assert list(shares.index) == ["GG", "AG", "AA"]
    assert list(shares.idxmax(axis=1)) == ["high", "standard", "low"]


def test_proxy_tracks_the_sensitive_value_but_does_not_push_the_target(table):
    spec, frame = table
    by_value = pd.crosstab(frame[spec.sensitive.name], frame[spec.proxy.name], normalize="index")
    last = spec.proxy.values[-1]
    assert by_value[last].max() - by_value[last].min() > 0.4
    swapped = frame.assign(**{spec.proxy.name: spec.proxy.values[0]})
    assert np.allclose(hidden_score(frame, spec), hidden_score(swapped, spec))


def test_framings_share_the_generator_and_differ_only_by_spec():
    health, credit = make_people("healthcare", n=200), make_people("credit", n=200)
    assert "vkorc1_genotype" in health and "health_condition" in credit
    assert not set(health.columns) & {"vkorc1_genotype", "dose_band"} & set(credit.columns)


def test_bad_requests_say_what_to_do():
    with pytest.raises(ValueError, match="healthcare, credit, hiring"):
        make_people("recruiting")
    with pytest.raises(ValueError, match="at least 50"):
        make_people(n=10)
    with pytest.raises(ValueError, match="between 0 and 1"):
        split_members(100, train_fraction=1.5)
    with pytest.raises(KeyError, match="not a column"):
        target_shares(load_people(), "blood_type")


def test_split_is_half_and_half_disjoint_and_seeded():
    data = load_people()
    assert len(data.train_idx) == len(data.test_idx) == len(data.frame) // 2
    assert not set(data.train_idx) & set(data.test_idx)
    assert np.array_equal(data.train_idx, load_people().train_idx)
    assert not np.array_equal(data.train_idx, load_people(seed=1).train_idx)
    assert set(data.y_train) == {0, 1, 2} and data.class_names == ["low", "standard", "high"]


def test_write_dataset_and_missing_file_fallback(tmp_path, monkeypatch, capsys):
    csv, card = write_dataset("credit", tmp_path, n=100, seed=5)
    assert len(pd.read_csv(csv)) == 100 and "Synthetic data" in card.read_text()
    monkeypatch.setenv("LAB_KIT_ROOT", str(tmp_path / "empty_kit"))
    frame = read_people("healthcare")
    assert "missing" in capsys.readouterr().out
    pd.testing.assert_frame_equal(frame, make_people("healthcare"))


def test_command_line_writes_the_tables(tmp_path):
    env = {**os.environ, "LAB_KIT_ROOT": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "lab_helpers", "make-tabular-data", "--framing", "healthcare",
                             "--rows", "120"], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert len(pd.read_csv(tmp_path / "data" / "synthetic_patients.csv")) == 120
    assert (tmp_path / "data" / "synthetic_patients.md").is_file()


@pytest.mark.parametrize("spec", [HEALTHCARE, CREDIT], ids=["healthcare", "credit"])
def test_data_card_claim_sensitive_is_among_the_strongest_pushes(spec):
    swing = max(spec.sensitive.effects) - min(spec.sensitive.effects)
    others = [max(c.effects) - min(c.effects) for c in spec.categories if c.effects]
    others += [2 * abs(c.effect) for c in spec.numeric]  # one sd down to one sd up
    assert swing >= max(others)
    assert sum(c.effect == 0 for c in spec.numeric) >= 2  # "several columns have no push at all"


def test_the_hiring_framing_is_synthetic_and_names_its_special_category_field():
    """The HR scenario (issue 27): a screening model trained on a disability disclosure and a proxy for it."""
    card = data_card(HIRING)
    assert "synthetic" in card.lower() and "disability" in card and "special-category" in card
    frame = load_people("hiring").frame
    assert set(frame[HIRING.target]) == set(HIRING.classes) and HIRING.proxy.name in frame.columns
