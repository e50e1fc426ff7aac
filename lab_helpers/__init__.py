"""Model Inversion Lab helpers: the plumbing behind the notebooks, one module per concern.

Names are loaded on first use, so `import lab_helpers` does no work and pulls in no heavy library.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "load_faces": "data", "FaceData": "data", "FaceDataMissing": "data", "split_per_person": "data",
    "run_doctor": "doctor", "run_checks": "doctor",
    "build_labs": "notebooks", "reset_lab": "notebooks", "list_labs": "notebooks",
    "load_threat_cards": "quiz", "threat_definitions": "quiz", "load_questions": "quiz",
    "grade_card": "quiz", "grade_question": "quiz", "THREATS": "quiz",
    "sorting_drill": "widgets", "show_quiz": "widgets",
    "show_face_grid": "plots", "plot_scores": "plots",
    "train_quick_face_classifier": "models", "confidence_scores": "models",
    "placeholder": "checks", "check_score_reading": "checks",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'lab_helpers' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
