"""Issue 26: every term in docs/glossary.md is explained in plain words where the labs first use it (labs 00 to 10 in
order, each lab's title cell left out: it links the glossary), and the glossary covers the technical words the
guided paths use."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

KIT = Path(__file__).resolve().parent.parent
GLOSSARY = KIT / "docs" / "glossary.md"
WINDOW = 400  # characters either side of the first use in which the plain-words gloss must stand

# glossary entry -> (the word searched for, words of its plain-words explanation at that first use)
FIRST_USE = {
    "model inversion": ("model inversion", "uses a trained model's"),
    "confidence score": ("confidence score", "how sure it is of each answer"),
    "membership inference": ("membership inference", "who was trained on"),
    "attribute inference": ("attribute inference", "a hidden value"),
    "overfit / regularised": ("overfit", "memorisation of its training records"),
    "generalisation gap": ("generalisation gap", "that difference"),
    "random forest, decision tree, leaf (min_samples_leaf)": ("random forest", "fewest training records a leaf"),
    "weight decay, early stopping": ("weight decay", "a pull of every weight towards zero"),
    "threshold (membership test)": ("threshold", 'guess "member"'),
    "TPR − FPR (membership advantage)": ("membership advantage", "the share of members flagged minus"),
    "softmax (regression)": ("softmax", "one linear score per person"),
    "MLP (neural network, hidden layer)": ("MLP", "multi-layer perceptron"),
    "logit / log-probability": ("log-probability", "the log of the person's score"),
    "gradient": ("gradient", "which way and how strongly to change it"),
    "white-box / black-box": ("white-box", "the model itself"),
    "API": ("API", "the interfaces programs send queries to"),
    "boundary attack": ("boundary attack", "starts from an image the model labels as the person"),
    "evaluator (strict judge)": ("evaluator", "trained on its own photos, names the person"),
    "MI-FACE": ("MI-FACE", "start from a plain grey image"),
    "total variation (TV)": ("total variation", "how much neighbouring pixels differ"),
    "NES": ("NES", "natural evolution strategies"),
    "DCT basis": ("DCT", "smooth wave patterns"),
    "recognised, template leak (lineup, correlation judge), visible": ("template leak", "picks the right person out of five"),
    "lineup": ("lineup", "picks the right person out of five"),
    "query multiplier": ("query multiplier", "how many times the queries"),
    "chance": ("chance", "one in 40"),
    "query budget (queries per person)": ("queries per person", "asks the service once"),
    "output policy": ("output policy", "every score, fewer digits, or the label only"),
    "explanation (saliency map, attribution, integrated gradients, Captum)": ("explanation", "how much each input pushed"),
    "DP-SGD, ε and δ, clipping, Opacus": ("DP-SGD", "adding or removing any *one* training record"),
    "proxy": ("proxy", "stand-in"),
    "group privacy": ("group privacy", "seven photos of one person are protected only"),
    "rate limit, quota, token bucket": ("rate limit", "a cap on queries per key"),
    "audit log, detector": ("audit log", "Every request is a row"),
    "network segment, NAT": ("network segment", "a block of nearby addresses"),
    "sketch (of a request)": ("sketch", "a short fingerprint"),
    "SQLite": ("SQLite", "an embedded database"),
    "Kerckhoffs's principle": ("Kerckhoffs", "Assume the attacker knows the controls"),
    "model card, release gate": ("model card", "travels with a model"),
    "face prior": ("face prior", "public photos of other people"),
    "eigenfaces (PCA)": ("eigenfaces", "main patterns of light and shade"),
    "generator / VAE": ("VAE", "draws a face from 32 numbers"),
    "public lookup": ("public lookup", "no inversion at all"),
    "label smoothing": ("label smoothing", "a little less, or more, certain than 100 %"),
    "transfer learning": ("transfer learning", "learned on the *public* people"),
    "excessive agency": ("excessive agency", "more functions, permissions or autonomy than its task needs"),
    "explainable vs non-explainable model": ("explainable", "an interpretable model"),
    "Shapley values, counterfactual": ("Shapley", "how much each input pushed"),
    "sensitive information disclosure (to / from a model)": ("disclosure to the model", "a nurse pastes"),
    "data loss prevention (DLP)": ("data loss prevention", "checks prompts and replies"),
    "AI-use policy": ("AI-use policy", "says which tools staff may use"),
    "performance-based question (PBQ), mock exam form": ("performance-based question", "tasks rather than choices"),
}

# technical words of the list (and others the paths use): any on a guided path must be a glossary term
JARGON = ("random forest", "proxy", "group privacy", "boundary attack", "epoch", "weight decay", "tensor", "Adam",
          "BatchNorm", "eigenfaces", "DCT", "NES", "Kerckhoffs", "TOML", "GAN", "generalisation gap", "confidence score",
          "evaluator", "API", "network segment", "sketch", "SQLite", "Opacus", "clipping", "threshold", "lineup",
          "gradient", "logit", "softmax", "MLP", "VAE", "Captum", "Shapley", "counterfactual", "DLP", "PBQ")


def glossary_terms() -> list[str]:
    return re.findall(r"^\| \*\*(.+?)\*\* \|", GLOSSARY.read_text(encoding="utf-8"), flags=re.M)


def term_forms(entry: str) -> list[str]:
    """The words an entry covers: 'DP-SGD, ε and δ, clipping, Opacus' -> DP-SGD, ε, δ, clipping, Opacus."""
    flat = entry.replace("(", ",").replace(")", "").replace(" / ", ",").replace(" vs ", ",")
    return [f.strip() for f in re.split(r",| and ", flat) if f.strip()]


def sequence(folder: str = "solutions") -> list[tuple[str, str]]:
    """(lab, markdown) for every markdown cell of labs 00-10 in order, the title cells left out."""
    cells = []
    for path in sorted((KIT / folder).glob("[0-9][0-9]_*.ipynb")):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"][1:]:
            if cell["cell_type"] == "markdown":
                cells.append((path.name[:2], "".join(cell["source"])))
    return cells


def first_use(word: str, cells: list[tuple[str, str]]) -> tuple[str, str, int] | None:
    """(lab, cell text, position) of the word's first use (a plural or other ending counts)."""
    pattern = re.compile(r"(?<![\w-])" + re.escape(word), flags=0 if word.isupper() else re.IGNORECASE)
    for lab, text in cells:
        found = pattern.search(text)
        if found:
            return lab, text, found.start()
    return None


def gloss_problems(cells: list[tuple[str, str]]) -> list[str]:
    problems = []
    for entry, (word, gloss) in FIRST_USE.items():
        where = first_use(word, cells)
        if where is None:
            problems.append(f"{entry}: {word!r} is used in no lab")
            continue
        lab, text, at = where
        near = text[max(0, at - WINDOW):at + len(word) + WINDOW]
        if gloss not in near:
            problems.append(f"{entry}: first used in lab {lab} ({text[max(0, at - 40):at + 60]!r}) without "
                            f"its plain-words gloss {gloss!r} beside it")
    return problems


def test_every_glossary_term_is_explained_in_plain_words_where_the_labs_first_use_it():
    assert sorted(FIRST_USE) == sorted(glossary_terms()), "every glossary entry has its first use checked here"
    assert gloss_problems(sequence()) == []


def test_the_first_use_check_fails_when_a_gloss_is_missing():
    cells = sequence()
    lab, text, at = first_use("generalisation gap", cells)
    broken = [(l, t.replace("that difference", "which")) if t == text else (l, t) for l, t in cells]
    assert any("generalisation gap" in p and "without its plain-words gloss" in p for p in gloss_problems(broken))
    early = [("00", "We compare the generalisation gap of two models.")] + cells  # used before its explanation
    assert any(p.startswith("generalisation gap") for p in gloss_problems(early))


@pytest.mark.parametrize("lab", ["00", "01", "02", "03", "04", "05", "06", "07", "08", "09"])
def test_the_glossary_covers_the_technical_words_of_each_guided_path(lab):
    from test_guided_paths import guided_path

    path_cells, _ = guided_path(next((KIT / "solutions").glob(f"{lab}_*.ipynb")))
    prose = "\n".join(c.source for c in path_cells if c.cell_type == "markdown")
    covered = {form.lower() for entry in glossary_terms() for form in term_forms(entry)}
    used = [w for w in JARGON if re.search(r"(?<![\w-])" + re.escape(w) + r"(?![a-z])", prose,
                                           flags=0 if w.isupper() or len(w) <= 4 else re.IGNORECASE)]
    assert [w for w in used if not any(form.startswith(w.lower()) for form in covered)] == []
