"""The CAS-005 question bank as data, its grading and scoring, a learner's progress file, and the terminal quiz."""

from __future__ import annotations

# ruff: noqa: F401 - the names under TYPE_CHECKING are exported lazily through `attach`, not unused

from typing import TYPE_CHECKING

from ..lazy import attach

# module -> the names it exports; each module loads on first use of one of its names (no work on import)
__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "bank": [
            "FORMATS",
            "LAB_NOTEBOOKS",
            "THREATS",
            "TOPIC_NOTE",
            "ExamResult",
            "ExamSession",
            "Feedback",
            "check_question",
            "choice_order",
            "correct_options",
            "declared_choices",
            "display_order",
            "drill_score",
            "filter_by_topic",
            "grade_card",
            "grade_question",
            "lab_number",
            "load_concepts",
            "load_questions",
            "load_threat_cards",
            "match_choices",
            "mock_exam_questions",
            "parse_answer",
            "pick_questions",
            "question_concepts",
            "question_files",
            "question_text",
            "question_topics",
            "quick_check_questions",
            "resolve_tag",
            "review_list",
            "score_by_topic",
            "threat_definitions",
            "topic_titles",
        ],
        "progress": [
            "Progress",
            "load_progress",
            "progress_by_topic",
            "progress_path",
            "progress_summary",
            "record_answer",
            "record_session",
            "save_progress",
        ],
        "terminal": ["run_terminal_quiz", "terminal_quiz"],
    },
)

if TYPE_CHECKING:  # for editors and type checkers; at run time the names load lazily, above
    from .bank import (
        FORMATS,
        LAB_NOTEBOOKS,
        THREATS,
        TOPIC_NOTE,
        ExamResult,
        ExamSession,
        Feedback,
        check_question,
        choice_order,
        correct_options,
        declared_choices,
        display_order,
        drill_score,
        filter_by_topic,
        grade_card,
        grade_question,
        lab_number,
        load_concepts,
        load_questions,
        load_threat_cards,
        match_choices,
        mock_exam_questions,
        parse_answer,
        pick_questions,
        question_concepts,
        question_files,
        question_text,
        question_topics,
        quick_check_questions,
        resolve_tag,
        review_list,
        score_by_topic,
        threat_definitions,
        topic_titles,
    )
    from .progress import (
        Progress,
        load_progress,
        progress_by_topic,
        progress_path,
        progress_summary,
        record_answer,
        record_session,
        save_progress,
    )
    from .terminal import run_terminal_quiz, terminal_quiz
