"""A learner's quiz progress in a small local JSON file, kept across sessions.

The file is data/cache/quiz_progress.json, or the path in the LAB_PROGRESS_FILE environment variable. When the
cache is shared between learners (LAB_CACHE_DIR set, as on a class hub), each learner's file stays in their own
home instead: ~/.model-inversion-lab/quiz_progress.json (where `python -m lab_helpers scores` finds it).
A missing file starts fresh; an unreadable or corrupt one is kept as a backup and progress starts fresh.
Nothing here ever raises on a bad file: the worst case is a printed note and an empty record.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..paths import cache_dir

PROGRESS_ENV = "LAB_PROGRESS_FILE"
FILE_NAME = "quiz_progress.json"
VERSION = 1


def progress_path() -> Path:
    """Where progress is kept: $LAB_PROGRESS_FILE; with a shared cache (LAB_CACHE_DIR), the learner's own
    ~/.model-inversion-lab/quiz_progress.json; else data/cache/quiz_progress.json."""
    env = os.environ.get(PROGRESS_ENV)
    if env:
        return Path(env).expanduser()
    if os.environ.get("LAB_CACHE_DIR"):  # one cache for a whole class: never one progress file for everyone
        return Path.home() / ".model-inversion-lab" / FILE_NAME
    return cache_dir() / FILE_NAME


def _now() -> str:
    return _dt.datetime.now().isoformat(timespec="seconds")


@dataclass
class Progress:
    """Every question answered (attempts, right, last answer right?) and every finished session."""

    answers: dict[str, dict] = field(default_factory=dict)
    sessions: list[dict] = field(default_factory=list)
    note: str = ""  # set when the file could not be read and progress started fresh

    def record_answer(self, question_id: str, correct: bool, score: float | None = None) -> None:
        """Count one answer to a question; `score` keeps partial credit (the share of the marks, 0 to 1)."""
        entry = self.answers.setdefault(question_id, {"attempts": 0, "right": 0})
        entry["streak"] = (_streak(entry) + 1) if correct else 0  # right answers in a row: the Leitner box
        entry["attempts"] += 1
        entry["right"] += bool(correct)
        entry["last_correct"] = bool(correct)
        entry["last_seen"] = _now()
        if score is not None:
            entry["last_score"] = round(float(score), 2)

    def record_session(self, record: dict) -> None:
        """Keep a finished quiz session (ExamResult.record(kind)) with the time it ended."""
        self.sessions.append({**record, "ended": _now()})

    def history(self) -> dict[str, dict]:
        """Question id -> its answer record (what the quiz uses to put unseen and missed questions first)."""
        return self.answers

    def as_json(self) -> dict:
        """The file's content."""
        return {"version": VERSION, "answers": self.answers, "sessions": self.sessions}


REVIEW_DAYS = (0, 1, 3, 7, 21)  # Leitner boxes: days until a question is due again after 0, 1, 2, 3, 4+ right in a row


def _streak(entry: dict) -> int:
    """Right answers in a row (a file written before streaks were kept: 1 when the last answer was right)."""
    return int(entry.get("streak", 1 if entry.get("last_correct") else 0))


def review_due(progress: "Progress", pool: list[dict], now: _dt.datetime | None = None) -> tuple[list[dict], list[dict]]:
    """Spaced review (Leitner boxes): (questions answered before and due again, most overdue first; questions never
    answered). A question answered right k times in a row comes back after REVIEW_DAYS[k] days; a wrong one at once."""
    now = now or _dt.datetime.now()
    due, fresh = [], []
    for q in pool:
        entry = progress.answers.get(q["id"])
        if not entry or "last_seen" not in entry:
            fresh.append(q)
            continue
        box = min(_streak(entry), len(REVIEW_DAYS) - 1)
        when = _dt.datetime.fromisoformat(entry["last_seen"]) + _dt.timedelta(days=REVIEW_DAYS[box])
        if when <= now:
            due.append((box, when, q))
    due.sort(key=lambda t: (t[0], t[1]))
    return [q for _, _, q in due], fresh


def next_review(progress: "Progress", pool: list[dict]) -> _dt.datetime | None:
    """When the next question of the pool falls due (None when none was answered yet)."""
    times = []
    for q in pool:
        entry = progress.answers.get(q["id"])
        if entry and "last_seen" in entry:
            box = min(_streak(entry), len(REVIEW_DAYS) - 1)
            times.append(_dt.datetime.fromisoformat(entry["last_seen"]) + _dt.timedelta(days=REVIEW_DAYS[box]))
    return min(times) if times else None


def _valid(doc) -> bool:
    """Does a parsed file have the shape this module writes?"""
    if not isinstance(doc, dict) or doc.get("version") != VERSION:
        return False
    answers, sessions = doc.get("answers"), doc.get("sessions")
    if not isinstance(answers, dict) or not isinstance(sessions, list):
        return False
    for entry in answers.values():
        if not isinstance(entry, dict) or not isinstance(entry.get("attempts"), int) or not isinstance(entry.get("right"), int):
            return False
    return all(isinstance(s, dict) for s in sessions)


def backup_path(path: Path) -> Path:
    """A new name beside path for a corrupt file, never one that exists already."""
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    candidate = path.with_name(f"{path.stem}.corrupt-{stamp}{path.suffix}")
    n = 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.stem}.corrupt-{stamp}-{n}{path.suffix}")
    return candidate


def load_progress(path: Path | str | None = None) -> Progress:
    """The saved progress; a fresh record (with a note saying why) when the file is missing, unreadable or corrupt."""
    path = Path(path) if path else progress_path()
    if not path.exists():
        return Progress()
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        return Progress(note=f"Could not read your progress file {path} ({exc.strerror or exc}); starting fresh.")
    except ValueError:  # not JSON, or not UTF-8
        doc = None
    if _valid(doc):
        return Progress(dict(doc["answers"]), list(doc["sessions"]))
    try:
        kept = backup_path(path)
        path.replace(kept)
        where = f"it is kept as {kept}"
    except OSError as exc:
        where = f"it could not be moved aside ({exc})"
    return Progress(note=f"Your progress file {path} was unreadable, so progress starts fresh; {where}.")


def save_progress(progress: Progress, path: Path | str | None = None) -> str:
    """Write progress atomically; returns '' on success, or a note saying why it could not be saved."""
    path = Path(path) if path else progress_path()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(progress.as_json(), indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        return f"Could not save your progress to {path} ({exc}); answers still count in this session."
    return ""


def record_answer(question_id: str, correct: bool, path: Path | str | None = None, score: float | None = None) -> str:
    """Load, count one answer, save (so two open notebooks do not overwrite each other's answers); returns any note.

    score: the share of the marks earned (partial credit), kept as the entry's last_score.
    """
    progress = load_progress(path)
    progress.record_answer(question_id, correct, score)
    return " ".join(n for n in (progress.note, save_progress(progress, path)) if n)


def record_session(record: dict, path: Path | str | None = None) -> str:
    """Load, keep one finished session, save; returns any note."""
    progress = load_progress(path)
    progress.record_session(record)
    return " ".join(n for n in (progress.note, save_progress(progress, path)) if n)


def progress_by_topic(progress: Progress, questions: list[dict]) -> list[dict]:
    """Per topic: questions in the bank, answered at least once, and right on the last try."""
    from .bank import question_topics, topic_titles

    rows = {key: {"topic": title, "questions": 0, "answered": 0, "right last time": 0}
            for key, title in topic_titles().items()}
    for q in questions:
        entry = progress.answers.get(q["id"])
        for topic in question_topics(q):
            row = rows[topic]
            row["questions"] += 1
            row["answered"] += entry is not None
            row["right last time"] += bool(entry and entry.get("last_correct"))
    return [row for row in rows.values() if row["questions"]]


def progress_summary(progress: Progress, questions: list[dict]) -> str:
    """One paragraph: how much of the bank is answered, how much right, the mock exams so far."""
    ids = {q["id"] for q in questions}
    seen = [a for qid, a in progress.answers.items() if qid in ids]
    right = sum(bool(a.get("last_correct")) for a in seen)
    text = (f"{len(seen)} of {len(questions)} questions answered at least once; "
            f"{right} right on the last try.")
    mocks = [s for s in progress.sessions if s.get("kind") == "mock exam"]
    if mocks:
        scores = ", ".join(f"{s['marks']}/{s['max_marks']} marks" if s.get("max_marks") else f"{s['right']}/{s['asked']}"
                           for s in mocks[-5:])
        text += f" Mock exams so far: {len(mocks)} (latest scores: {scores})."
    return text
