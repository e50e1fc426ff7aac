"""Issue 26: the crosswalk from CAS-005 objective 1.5 to the labs names only labs whose text uses the row's key term."""
from __future__ import annotations

import re
from pathlib import Path

import nbformat

KIT = Path(__file__).resolve().parent.parent


def crosswalk_rows() -> list[tuple[str, str, list[str]]]:
    """(bullet, key term, lab numbers) for every row of docs/crosswalk.md."""
    rows = []
    for line in (KIT / "docs" / "crosswalk.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and re.match(r"\d\d", cells[2]):
            rows.append((cells[0], cells[1], sorted(set(re.findall(r"\b(\d\d)\b", cells[2])))))
    return rows


def lab_text(lab: str) -> str:
    path = next((KIT / "solutions").glob(f"{lab}_*.ipynb"))
    return "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown").lower()


def test_every_lab_the_crosswalk_names_uses_the_rows_key_term():
    rows = crosswalk_rows()
    assert len(rows) >= 15
    missing = [(bullet, term, lab) for bullet, term, labs in rows for lab in labs if term.lower() not in lab_text(lab)]
    assert not missing, missing


def test_the_crosswalk_covers_every_threat_and_ai_use_risk_the_question_bank_tags():
    from lab_helpers.exam.bank import AI_USE_RISKS, OBJECTIVE_THREATS

    text = (KIT / "docs" / "crosswalk.md").read_text(encoding="utf-8").lower()
    uncovered = [t for t in (*OBJECTIVE_THREATS, *AI_USE_RISKS)
                 if t.lower() not in text and t.lower().replace("ai-use", "ai use") not in text]
    assert not uncovered, uncovered
