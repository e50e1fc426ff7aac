"""Learners' progress files gathered into one table for an instructor: `python -m lab_helpers scores`.

Each learner's quiz progress lives in a small JSON file (lab_helpers.exam.progress; on a class hub, one per home
folder, e.g. /home/jupyter-ada/model-inversion-lab/data/cache/quiz_progress.json). Point `scores` at a folder of
them (or at files) and it reads each one read-only, never moving, fixing or writing it, and makes one row per
learner: the pre/post check side by side, lab quick checks, mock exams, weakest topics. A file that is not a progress file is reported and skipped.
"""
from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from .bank import LAB_NOTEBOOKS, load_questions, number_text, question_topics, topic_titles
from .checks import check_sessions
from .progress import FILE_NAME, Progress, _valid

COLUMNS = ["learner", "answered", "right_last_try", "pre_check", "post_check", "check_change"] + [
    f"lab_{lab}" for lab in LAB_NOTEBOOKS] + [
    "mock_exams", "latest_mock_exam", "latest_mock_exam_percent", "latest_passed", "best_mock_exam_percent",
    "weakest_topics", "file"]


class ScoresError(ValueError):
    """Input the scores command cannot use: the message says what is wrong in one line."""


@dataclass
class ScoreRow:
    """One learner's progress, summed up: answers over the bank and per lab, mock exams, weakest topics."""

    learner: str
    file: str
    answered: int
    right: int
    labs: dict[str, tuple[int, int]]  # lab -> (right on the last try, answered)
    mocks: list[dict] = field(default_factory=list)  # the mock exam sessions, oldest first
    weakest: list[str] = field(default_factory=list)
    checks: dict[str, dict] = field(default_factory=dict)  # "pre"/"post" -> the latest session of that check form

    def check_right(self, form: str) -> float | None:
        """Right answers on one form of the pre/post check (None: not taken)."""
        session = self.checks.get(form)
        try:
            return float(session["right"]) if session else None
        except (KeyError, TypeError, ValueError):
            return None

    @staticmethod
    def _share(session: dict) -> float | None:
        """The share of the marks a session earned: weighted marks when it kept them (a mock exam's PBQs weigh
        more), else right answers over questions asked."""
        earned, possible = ("marks", "max_marks") if session.get("max_marks") else ("right", "asked")
        try:
            return float(session.get(earned, 0)) / float(session[possible]) if session.get(possible) else None
        except (TypeError, ValueError):
            return None

    def as_dict(self) -> dict:
        """The row as the CSV file holds it."""
        latest = self.mocks[-1] if self.mocks else None
        shares = [s for s in (self._share(m) for m in self.mocks) if s is not None]
        latest_share = self._share(latest) if latest else None
        passed = latest.get("passed") if latest else None
        if latest and passed is None and latest_share is not None and latest.get("pass_mark"):
            passed = latest_share >= float(latest["pass_mark"])
        row = {"learner": self.learner, "answered": self.answered, "right_last_try": self.right}
        pre, post = self.check_right("pre"), self.check_right("post")
        row |= {f"{form}_check": (f"{number_text(right)}/{self.checks[form].get('asked')}" if right is not None else "")
                for form, right in (("pre", pre), ("post", post))}
        row["check_change"] = "" if pre is None or post is None else f"{post - pre:+g}"
        row |= {f"lab_{lab}": (f"{r}/{n}" if n else "") for lab, (r, n) in self.labs.items()}
        row |= {"mock_exams": len(self.mocks),
                "latest_mock_exam": (f"{number_text(float(latest.get('marks', 0)))}/{number_text(float(latest['max_marks']))}"
                                     if latest and latest.get("max_marks") else
                                     f"{number_text(float(latest.get('right', 0)))}/{latest.get('asked')}" if latest else ""),
                "latest_mock_exam_percent": "" if latest_share is None else round(100 * latest_share, 1),
                "latest_passed": "" if passed is None else ("yes" if passed else "no"),
                "best_mock_exam_percent": round(100 * max(shares), 1) if shares else "",
                "weakest_topics": "; ".join(self.weakest), "file": self.file}
        return row


def read_progress_file(path: Path | str) -> tuple[Progress | None, str]:
    """(the progress, '') from a file, or (None, why it is not a progress file). Read-only: the file is never
    moved, fixed or written, whatever is in it (load_progress, by contrast, moves a corrupt file aside)."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        return None, f"cannot be read ({exc.strerror or exc})"
    except ValueError:
        return None, "is not valid JSON"
    if not _valid(doc):
        return None, "is not a quiz progress file (version 1, answers, sessions)"
    return Progress(dict(doc["answers"]), list(doc["sessions"])), ""


def _learner_name(path: Path, root: Path) -> str:
    """The learner a file belongs to: the first folder under the root (a hub's home folders), else the file's name."""
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        parts = (path.name,)
    if len(parts) > 1:
        return parts[0]
    if path.stem == Path(FILE_NAME).stem:
        return path.parent.name or path.stem
    return path.stem


def find_progress_files(paths: list[Path | str]) -> list[tuple[str, Path]]:
    """(learner, file) for the progress files in the given folders (or the given files), in a stable order.

    In a folder: every quiz_progress.json at any depth (a hub's home folders), and every other .json file directly in
    it (a folder of collected files, alice.json, bob.json). Backups of corrupt files (*.corrupt-*) and temporary
    files are left out; ScoresError for a path that does not exist.
    """
    found: list[tuple[str, Path]] = []
    for given in paths:
        root = Path(given).expanduser()
        if not root.exists():
            raise ScoresError(f"{root} does not exist: give a folder of learners' progress files (or files).")
        if root.is_file():
            found.append((_learner_name(root, root.parent), root))
            continue
        candidates = set(root.rglob(FILE_NAME)) | set(root.glob("*.json"))
        for path in sorted(candidates):
            if ".corrupt-" in path.name or path.name.startswith(".") or not path.is_file():
                continue
            found.append((_learner_name(path, root), path))
    names: dict[str, int] = {}
    unique = []
    for learner, path in found:  # two files for one learner name: keep both, told apart
        names[learner] = names.get(learner, 0) + 1
        unique.append((learner if names[learner] == 1 else f"{learner} ({names[learner]})", path))
    return unique


def weakest_topics(progress: Progress, questions: list[dict], most: int = 3) -> list[str]:
    """Up to `most` topics with the lowest share right on the last try (partial credit counts), two answers or more."""
    titles, seen = topic_titles(), {}
    for q in questions:
        entry = progress.answers.get(q["id"])
        if not entry:
            continue
        score = entry.get("last_score", 1.0 if entry.get("last_correct") else 0.0)
        for topic in question_topics(q):
            total, n = seen.get(topic, (0.0, 0))
            seen[topic] = (total + float(score), n + 1)
    ranked = sorted((total / n, -n, topic) for topic, (total, n) in seen.items() if n >= 2 and total / n < 1)
    return [titles.get(topic, topic) for _, _, topic in ranked[:most]]


def score_row(learner: str, path: Path, progress: Progress, questions: list[dict]) -> ScoreRow:
    """One learner's row."""
    by_id = {q["id"]: q for q in questions}
    labs = {lab: (0, 0) for lab in LAB_NOTEBOOKS}
    answered = right = 0
    for qid, entry in progress.answers.items():
        q = by_id.get(qid)
        if q is None:  # a question since removed from the bank
            continue
        good = bool(entry.get("last_correct"))
        answered += 1
        right += good
        r, n = labs[q["lab"]]
        labs[q["lab"]] = (r + good, n + 1)
    mocks = [s for s in progress.sessions if isinstance(s, dict) and s.get("kind") == "mock exam"]
    return ScoreRow(learner, str(path), answered, right, labs, mocks, weakest_topics(progress, questions),
                    check_sessions(progress))


def gather_scores(paths: list[Path | str]) -> tuple[list[ScoreRow], list[str]]:
    """(one row per learner, a note for each file skipped and why). ScoresError when nothing usable is found."""
    files = find_progress_files(paths)
    questions = load_questions()
    rows, skipped = [], []
    for learner, path in files:
        progress, why = read_progress_file(path)
        if progress is None:
            skipped.append(f"skipped {path}: it {why}")
            continue
        rows.append(score_row(learner, path, progress, questions))
    if not rows:
        where = ", ".join(str(p) for p in paths)
        raise ScoresError(f"No quiz progress files in {where}" + (f" ({len(skipped)} other JSON file(s) skipped)" if skipped
                                                                  else "") + ".")
    return rows, skipped


def scores_table(rows: list[ScoreRow]) -> str:
    """The rows as CSV text."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row.as_dict())
    return out.getvalue()


def export_scores(rows: list[ScoreRow], target: Path | str, inputs: list[Path] | None = None) -> Path:
    """Write the table to a .csv file (atomically). ScoresError, and nothing written, for a target that is not a
    .csv file, is a folder, is in a folder that does not exist, or is one of the progress files read."""
    target = Path(target).expanduser()
    if target.suffix.lower() != ".csv":
        raise ScoresError(f"--export must name a .csv file (got {target.name}).")
    if target.is_dir():
        raise ScoresError(f"--export {target} is a folder: name a .csv file.")
    if not target.parent.is_dir():
        raise ScoresError(f"--export {target}: the folder {target.parent} does not exist.")
    resolved = target.resolve()
    if any(resolved == Path(p).resolve() for p in inputs or []) or (target.is_file() and read_progress_file(target)[0]):
        raise ScoresError(f"--export {target} is a quiz progress file: choose another name.")
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(scores_table(rows), encoding="utf-8")
        os.replace(temporary, target)
    except OSError as exc:
        raise ScoresError(f"--export {target}: cannot write it ({exc.strerror or exc}).") from None
    finally:
        temporary.unlink(missing_ok=True)
    return target


def scores_text(rows: list[ScoreRow]) -> str:
    """A plain-text summary: one line per learner."""
    lines = []
    for row in rows:
        d = row.as_dict()
        labs = " ".join(f"{lab}:{d[f'lab_{lab}']}" for lab in LAB_NOTEBOOKS if d[f"lab_{lab}"])
        mock = (f"mock exams {d['mock_exams']}, latest {d['latest_mock_exam']} ({d['latest_mock_exam_percent']} %"
                + (f", passed: {d['latest_passed']}" if d["latest_passed"] else "") + ")") if row.mocks else "no mock exam"
        weak = f"; weakest: {d['weakest_topics']}" if d["weakest_topics"] else ""
        check = (f"; check pre {d['pre_check'] or '-'}, post {d['post_check'] or '-'}"
                 + (f" ({d['check_change']})" if d["check_change"] else "")) if row.checks else ""
        lines.append(f"{row.learner}: {row.answered} answered, {row.right} right on the last try; labs {labs or '-'}; "
                     f"{mock}{check}{weak}")
    both = [(r.check_right("pre"), r.check_right("post")) for r in rows
            if r.check_right("pre") is not None and r.check_right("post") is not None]
    if both:
        pre, post = (sum(x) / len(both) for x in zip(*both))
        lines.append(f"Pre/post check, {len(both)} learner(s) with both forms: {pre:.1f} -> {post:.1f} right of 10 on "
                     f"average ({post - pre:+.1f}).")
    return "\n".join(lines)


def run_scores(paths: list[str], export: str | None = None, say=print) -> int:
    """`python -m lab_helpers scores`: 0 when the table was made, 2 (and one line on why) on bad input."""
    import sys

    try:
        rows, skipped = gather_scores([Path(p) for p in paths])
        if export:
            written = export_scores(rows, export, [Path(r.file) for r in rows])
    except ScoresError as exc:
        print(f"scores: {exc}", file=sys.stderr)
        return 2
    for note in skipped:
        print(f"scores: {note}", file=sys.stderr)
    say(scores_text(rows))
    if export:
        say(f"Wrote {len(rows)} learner(s) to {written}")
    return 0
