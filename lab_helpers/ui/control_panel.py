"""Lab 04's live control panel: turn the API's output detail down and see what the attacks and the honest users get.

Everything expensive (black-box MI-FACE and attribute inference at every setting) is computed once, with a
progress bar, and cached in data/cache/; a slider move only looks results up and assembles the view.
"""
from __future__ import annotations

import hashlib
import html
import io
import json
import pickle
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from ..defences.output_policies import OUTPUT_KINDS, OutputPolicy
from ..formatting import percent
from ..paths import cache_dir, cache_lock, save_atomically
from .plots import PROJECTOR_MIN_PT, STRETCH_NOTE, amplification_captions, caption_colour, stretch_for_display

# The settings the panel offers, from most to least detail. top_k with k=1 is the same as label_score.
SETTINGS = (
    OutputPolicy("probabilities"),
    OutputPolicy("noisy", noise_scale=0.001), OutputPolicy("noisy", noise_scale=0.01), OutputPolicy("noisy", noise_scale=0.05),
    OutputPolicy("rounded", decimals=4), OutputPolicy("rounded", decimals=3), OutputPolicy("rounded", decimals=2),
    OutputPolicy("rounded", decimals=1),
    OutputPolicy("top_k", k=10), OutputPolicy("top_k", k=5), OutputPolicy("top_k", k=3),
    OutputPolicy("label_score"), OutputPolicy("label"),
)
ROW_IDENTITIES = (1, 5, 9, 13, 21, 27, 30, 34)  # the people shown in the panel's picture row
CACHE_VERSION = 11  # bump when what the cache holds changes (its history: git log -S CACHE_VERSION)


def setting_key(policy: OutputPolicy) -> tuple:
    """(kind, parameter value or None): how the panel and its cache name a setting."""
    return (policy.kind, policy.value)


def find_setting(kind: str, value=None) -> OutputPolicy:
    """The panel's setting for a policy kind and parameter value, or a clear error listing the valid ones."""
    for policy in SETTINGS:
        if setting_key(policy) == (kind, value if kind in OUTPUT_KINDS and OUTPUT_KINDS[kind].parameter else None):
            return policy
    valid = ", ".join(f"{k}={v}" if v is not None else k for k, v in map(setting_key, SETTINGS))
    raise ValueError(f"The panel has no setting {kind}={value!r}. Valid settings: {valid}.")


def parameter_values(kind: str) -> list:
    """The values the panel's slider offers for one policy kind (empty when the policy has no knob)."""
    return [p.value for p in SETTINGS if p.kind == kind and p.record.parameter]


def honest_user_utility(labels: np.ndarray, scores: np.ndarray, truth: np.ndarray, exact: np.ndarray) -> dict:
    """What honest users keep: top-1 accuracy, top-5 from the answer's scores, and how far scores are from the truth."""
    top5 = []
    for row, person in zip(scores, truth):
        shown = np.flatnonzero(row > 0)
        ranked = shown[np.argsort(-row[shown], kind="stable")][:5]
        top5.append(person in ranked)
    return {"top1": float((labels == truth).mean()), "top5": float(np.mean(top5)),
            "score_error": float(0.5 * np.abs(scores - exact).sum(axis=1).mean())}


def example_response(api, photo: np.ndarray, shown: int = 5) -> str:
    """One API answer as the JSON a caller reads, trimmed to the highest scores."""
    item = api.respond(photo)[0]
    if "scores" in item:
        ranked = sorted(item["scores"].items(), key=lambda kv: -kv[1])
        extra = len(ranked) - shown
        item["scores"] = {k: round(v, 6) for k, v in ranked[:shown]}
        if extra > 0:
            item["scores"][f"... {extra} more"] = "..."
    return json.dumps(item, indent=1)


@dataclass
class SettingResult:
    """Everything the panel shows for one output setting: both attackers, the honest users, one answer."""

    policy: OutputPolicy
    face: object  # judges.Verdict of the naive black-box MI-FACE (lab 03's attack as built) at this setting
    row_images: np.ndarray  # the naive attacker's reconstructions of ROW_IDENTITIES
    attribute: dict  # attribute inference on training members: accuracy, baseline, margin, queries
    utility: dict  # honest users: top1, top5, score_error
    response: str  # one example API answer
    adaptive: object = None  # judges.Verdict of the strongest adaptive attacker at this setting
    adaptive_row_images: np.ndarray | None = None
    adaptive_attack: str = ""  # which adaptive attacker was strongest here, and how it went about it
    naive_stalled: int = 0  # people the naive attacker got no signal for
    by_budget: dict = field(default_factory=dict)  # {"naive": {queries: Verdict}, "adaptive": {...}}

    def queries_to(self, attacker: str, level: float, judge: str = "recognised_top1") -> int | None:
        """Queries per person the naive or adaptive attacker needed for `judge` (a Verdict field) to reach `level`
        (None: not within the budget)."""
        reached = [b for b, v in sorted(self.by_budget.get(attacker, {}).items()) if getattr(v, judge) >= level]
        return reached[0] if reached else None


def measure_setting(policy: OutputPolicy, face_model, faces, evaluator, tabular_model, people,
                    budget: int, seed: int, labels=None) -> SettingResult:
    """Run the naive and the adaptive attackers, attribute inference and the utility measures at this setting."""
    from ..attacks.probing import attribute_inference, make_api
    from ..evaluation.output_controls import attack_output_setting
    from ..service.api import ModelAPI

    attacks = attack_output_setting(face_model, policy, faces, evaluator, budget, seed, labels=labels)
    naive, strongest = attacks["naive"], attacks["strongest"]
    rows = list(ROW_IDENTITIES)
    labels_, scores = ModelAPI(face_model.predict_proba, policy, input_size=4096, seed=seed).answer(faces.X_test)
    inference = attribute_inference(make_api(tabular_model.model, people, policy), people, "members")
    return SettingResult(
        policy, naive.verdict, naive.reconstructions.images[rows],
        {"accuracy": inference.accuracy, "baseline": inference.baseline, "margin": inference.margin, "queries": inference.queries},
        honest_user_utility(labels_, scores, faces.y_test, face_model.predict_proba(faces.X_test)),
        example_response(ModelAPI(face_model.predict_proba, policy, input_size=4096, seed=seed), faces.X_test[0]),
        adaptive=strongest.verdict, adaptive_row_images=strongest.reconstructions.images[rows],
        adaptive_attack=f"{strongest.name}: {strongest.strategy}", naive_stalled=naive.reconstructions.stalled,
        by_budget={"naive": naive.by_budget, "adaptive": strongest.by_budget})


class RowPictures(Mapping):
    """The panel's picture rows, {key: PNG bytes}, each drawn the first time it is shown (27 rows: drawing them all up
    front cost every run of lab 04 about ten seconds, for pictures most learners never open)."""

    def __init__(self, rows: dict):
        self._rows, self._drawn = rows, {}  # key -> (images, caption); key -> PNG bytes

    def __getitem__(self, key) -> bytes:
        if key not in self._drawn:
            images, caption = self._rows[key]
            self._drawn[key] = row_picture(images, caption)
        return self._drawn[key]

    def __iter__(self):
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)


@dataclass
class PanelData:
    """Results at every setting, the unchanged white-box result, and the pictures, ready for instant lookup."""

    results: dict  # setting_key -> SettingResult
    white_box: object  # judges.Verdict
    white_row: np.ndarray
    budget: int
    pictures: Mapping  # setting_key (or "white-box") -> PNG bytes of the picture row (`RowPictures`)
    explanations: object = None  # `explanation_table` (setting -> recognised at 10 and 100, utility), or None


def _cache_path(face_model, tabular_model, budget: int, seed: int):
    """data/cache/lab04/panel-<hash>.pkl, keyed by everything that decides the results."""
    key = json.dumps([CACHE_VERSION, face_model.spec.key(), repr(tabular_model.model.get_params()), budget, seed,
                      [setting_key(p) for p in SETTINGS], ROW_IDENTITIES], sort_keys=True, default=str)
    return cache_dir() / "lab04" / f"panel-{hashlib.sha1(key.encode()).hexdigest()[:12]}.pkl"


def row_picture(images: np.ndarray, caption: str) -> bytes:
    """A PNG of one row of faces, each contrast-stretched for display with its stretch under it; an image that never
    moved is drawn grey and says 'no signal'."""
    from matplotlib.figure import (
        Figure,  # drawn off screen: no pyplot state, nothing shown in the notebook
    )

    fig = Figure(figsize=(1.4 * len(images), 2.7))
    axes = fig.subplots(1, len(images))
    for ax, img, words, person in zip(axes, stretch_for_display(images), amplification_captions(images), ROW_IDENTITIES):
        ax.imshow(img, cmap="gray", vmin=0, vmax=1)
        ax.set_title(f"person {person}\n{words}", fontsize=PROJECTOR_MIN_PT, color=caption_colour(words))
        ax.axis("off")
    fig.suptitle(f"{caption}\n({STRETCH_NOTE})", fontsize=PROJECTOR_MIN_PT + 1)
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.02, top=0.64, wspace=0.1)  # fixed: tight_layout took half the time
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    return buffer.getvalue()


def prepare_panel(face_model, faces, evaluator, tabular_model, people, budget: int = 2000, seed: int = 0,
                  progress: bool = True, explanations: bool = False) -> PanelData:
    """Measure every setting once (about 35 seconds on one CPU, with a progress bar), or load the cache.

    explanations: also measure the explanation settings of `explanation_table` (about 10 s the first time, then cached), so the
    panel offers an explanation beside each output setting.
    """
    from tqdm.auto import tqdm

    from ..attacks.mi_face import invert_white_box
    from ..judges.reconstructions import judge

    path = _cache_path(face_model, tabular_model, budget, seed)
    with cache_lock(path):
        if path.exists():
            results = pickle.loads(path.read_bytes())
        else:
            from ..evaluation.output_controls import label_attack

            labels = label_attack(face_model, faces, evaluator, budget, seed)  # the same at every setting: run once
            results = {setting_key(p): measure_setting(p, face_model, faces, evaluator, tabular_model, people, budget,
                                                       seed, labels)
                       for p in tqdm(SETTINGS, desc="measuring both attackers at every output setting",
                                     disable=not progress)}
            save_atomically(path, lambda p: p.write_bytes(pickle.dumps(results)))
    white = invert_white_box(face_model, np.arange(faces.n_people), progress=False)
    rows = {k: (r.row_images, f"naive attacker (lab 03's attack): {r.policy.describe()}") for k, r in results.items()}
    rows |= {(k, "adaptive"): (r.adaptive_row_images, f"adaptive attacker: {r.policy.describe()}")
             for k, r in results.items()}
    rows["white-box"] = (white.images[list(ROW_IDENTITIES)], "white-box reconstructions (any output setting)")
    pictures = RowPictures(rows)
    explained = None
    if explanations:
        from ..evaluation.explanation_leak import explanation_table

        explained = explanation_table(face_model, faces, evaluator)
    return PanelData(results, judge(white.images, white.identities, faces, evaluator),
                     white.images[list(ROW_IDENTITIES)], budget, pictures, explained)


NO_EXPLANATION = "none"


def explanation_rows(data: PanelData, explanation: str = NO_EXPLANATION) -> list[tuple[str, str, str]]:
    """The panel's rows for an explanation sent beside the answer (none: no rows)."""
    if explanation == NO_EXPLANATION:
        return []
    table = data.explanations
    if table is None or explanation not in table.index:
        valid = [NO_EXPLANATION] + ([] if table is None else list(table.index))
        raise ValueError(f"No measurement for explanation {explanation!r}. Valid: {', '.join(valid)}"
                         + ("" if table is not None else " (prepare_panel(..., explanations=True) measures the others)."))
    row = table.loc[explanation]
    if not row["signal"]:
        attack = ("explanation-guided attacker (label + this map)", "no signal", "the map gives this attack no direction")
    else:
        attack = ("explanation-guided attacker (label + this map), recognised",
                  f'<span class="ex-recognised">{percent(row["recognised at 100"])}</span>',
                  f"after 100 explained queries per person ({percent(row['recognised at 10'])} after 10)")
    return [("<b>Explanation sent with each answer</b>: " + html.escape(str(row["what the map is"])), "", ""), attack,
            ("the map still explains (rank correlation with the full map)", f"{row['utility']:.2f}", "1 = unchanged")]


@dataclass
class PanelView:
    """What the panel shows for one setting: plain strings and PNG bytes, no widgets."""

    title: str
    response: str  # HTML
    metrics: str  # HTML
    picture: bytes  # the naive attacker's reconstructions
    naive_recognised: float  # the share of people the strict evaluator recognises in the naive attacker's images
    attribute_accuracy: float
    adaptive_picture: bytes = b""
    adaptive_recognised: float = float("nan")


def judges_note(v, stalled: int = 0) -> str:
    """The other judges, in words: nearest photo (strict), lineup (template leak), contrast (visible)."""
    faint = f"; {v.faint} of 40 images under 4 grey levels" if v.faint else ""
    return (f"nearest photo {percent(v.recognised_nearest)}; template leak: lineup {percent(v.template_lineup)} (chance "
            f"20 %){faint}" + (f"; no signal for {stalled} of 40" if stalled else ""))


def ranking_note(policy: OutputPolicy) -> str:
    """What the honest user's top-5 is made of under this policy (it can be no more than what is shown)."""
    shown = policy.record.scores_shown(policy.value)
    if shown is None:
        return "ranked from all 40 scores shown"
    if shown <= 1:
        return f"{'no scores' if shown == 0 else 'one score'} shown: the label is the only candidate, so this is top-1"
    return f"ranked from the {shown} scores shown"


def panel_view(data: PanelData, kind: str, value=None, explanation: str = NO_EXPLANATION) -> PanelView:
    """The panel's handler: look up one setting's results and lay them out (no attack is run here).

    explanation: an explanation sent beside the answer, one of `data.explanations`' settings, or 'none'.
    """
    r = data.results[setting_key(find_setting(kind, value))]
    f, d, w, a, u = r.face, r.adaptive, data.white_box, r.attribute, r.utility
    curve = " / ".join(percent(v.recognised_top1) for _, v in sorted(r.by_budget.get("adaptive", {}).items()))
    budgets = " / ".join(f"{b:,}" for b in sorted(r.by_budget.get("adaptive", {})))
    rows = [
        ("<b>Attackers</b> (black-box MI-FACE): <b>recognised</b> by the strict evaluator (chance 2.5 %)", "",
         f"{data.budget:,} queries per person"),
        ("naive attacker (lab 03's attack, does not adapt)",
         f'<span class="bb-recognised">{percent(f.recognised_top1)}</span>', judges_note(f, r.naive_stalled)),
        ("adaptive attacker (knows the control)", f'<span class="ad-recognised">{percent(d.recognised_top1)}</span>',
         f"{judges_note(d)}; {html.escape(r.adaptive_attack.split(':')[0])}"),
        (f"adaptive attacker, recognised after {budgets} queries", "", curve),
        ("white-box MI-FACE, recognised — unchanged", percent(w.recognised_top1),
         f"template lineup {percent(w.template_lineup)}; uses gradients, not the answers"),
        ("attribute inference on patients (lab 02)", f'<span class="ai-accuracy">{percent(a["accuracy"])}</span>', f"prior-only guess {percent(a['baseline'])}"),
        ("<b>Honest users</b>", "", ""),
        ("top-1 accuracy (the label)", percent(u["top1"]), "the label is always sent"),
        ("top-5 from what is shown (ranking)", percent(u["top5"]), ranking_note(r.policy)),
        ("score error (0 = exact probabilities)", f"{u['score_error']:.3f}", "half the summed difference"),
    ] + explanation_rows(data, explanation)
    table = "".join(f"<tr><td>{a_}</td><td style='text-align:right;padding:0 12px;white-space:nowrap'>{b_}</td><td><i>{c_}</i></td></tr>" for a_, b_, c_ in rows)
    key = setting_key(r.policy)
    return PanelView(r.policy.describe(), f"<pre style='font-size:12px;margin:0'>{html.escape(r.response, quote=False)}</pre>",
                     f"<table style='font-size:14px'>{table}</table>", data.pictures[key], f.recognised_top1, a["accuracy"],
                     data.pictures[(key, "adaptive")], d.recognised_top1)


def picture_captions(view: PanelView) -> tuple[str, str]:
    """The words under the two picture rows (what they show, for a screen reader and for anyone): the naive and the
    adaptive attacker's reconstructions at this setting, and what the strict evaluator makes of them."""
    people = ", ".join(str(p) for p in ROW_IDENTITIES)
    return tuple(f"Picture above: the {who}'s reconstructions of people {people} with {view.title}, contrast-stretched "
                 f"for display (the factor under each face); across all 40 people the evaluator recognises "
                 f"{percent(share)}." for who, share in (("naive attacker", view.naive_recognised),
                                                          ("adaptive attacker", view.adaptive_recognised)))


POLICY_CHOICES = tuple((kind.label, kind.name) for kind in OUTPUT_KINDS.values())  # the panel's buttons, in order


def knob_label(kind: str, value) -> str:
    """What the slider says for one value, in words: '4 decimals', 'top 3', 'noise scale 0.05' (the kind's record)."""
    return OUTPUT_KINDS[kind].knob_text(value)


class ControlPanel:
    """The widget: a policy chooser and its one slider, wired to `panel_view`."""

    def __init__(self, data: PanelData):
        import ipywidgets as w

        self.data = data
        self.policy = w.ToggleButtons(options=list(POLICY_CHOICES), value="probabilities", description="output:",
                                      tooltips=[f"output: {label}" for label, _ in POLICY_CHOICES],
                                      style={"button_width": "130px"})
        self.knob = w.SelectionSlider(options=["-"], value="-", description="", disabled=True, continuous_update=False)
        offered = [NO_EXPLANATION] + ([] if data.explanations is None else list(data.explanations.index))
        self.explanation = w.Dropdown(options=offered, value=NO_EXPLANATION, description="explanation:",
                                      disabled=len(offered) == 1, style={"description_width": "initial"})
        self.explanation.observe(lambda change: self.show(self.policy.value, self.knob.value), names="value")
        self.title, self.response, self.metrics = w.HTML(), w.HTML(), w.HTML()
        self.picture, self.adaptive_picture = w.Image(format="png"), w.Image(format="png")
        self.policy.add_class("lab-policy")  # stable names for the browser test and for instructors' CSS
        self.picture.add_class("bb-picture")
        self.adaptive_picture.add_class("ad-picture")
        self.white_picture = w.Image(value=data.pictures["white-box"], format="png")
        self.picture_caption, self.adaptive_caption = w.HTML(), w.HTML()
        white_caption = w.HTML(f"<i>Picture above: white-box reconstructions of people "
                               f"{', '.join(str(p) for p in ROW_IDENTITIES)} from the model file, the same at every "
                               f"output setting; the evaluator recognises {percent(data.white_box.recognised_top1)} of "
                               "the 40 people.</i>")
        self.policy.observe(lambda change: self.on_policy(change["new"]), names="value")
        self._switching = False
        self.knob.observe(lambda change: None if self._switching else self.show(self.policy.value, change["new"]), names="value")
        left = w.VBox([w.HTML("<b>One API answer</b>"), self.response], layout=w.Layout(width="38%"))
        right = w.VBox([w.HTML("<b>What the attacker and the honest users get</b>"), self.metrics])
        # one picture row at a time, right under the buttons: the buttons and the faces they change fit on one
        # 720-pixel screen (all three rows and the tables took about two screens); the numbers follow below
        self.rows = {"naive attacker": (self.picture, self.picture_caption),
                     "adaptive attacker": (self.adaptive_picture, self.adaptive_caption),
                     "white-box (model file)": (self.white_picture, white_caption)}
        self.row_choice = w.ToggleButtons(options=list(self.rows), value="naive attacker", description="picture:",
                                          tooltips=[f"picture: {name}" for name in self.rows],
                                          style={"button_width": "190px"})
        self.row_choice.add_class("lab-picture-choice")
        self.row_choice.observe(lambda change: self.show_row(change["new"]), names="value")
        pictures = [part for pair in self.rows.values() for part in pair]
        self.box = w.VBox([self.policy, w.HBox([self.knob, self.explanation]), self.title, self.row_choice, *pictures,
                           w.HBox([left, right])])
        self.show_row("naive attacker")
        self.on_policy("probabilities")

    def show_row(self, name: str) -> None:
        """Show one picture row (and its caption), hide the other two; the chosen button carries a tick."""
        for row, parts in self.rows.items():
            for part in parts:
                part.layout.display = None if row == name else "none"
        self.row_choice.icons = ["check" if row == name else "" for row in self.rows]

    def on_policy(self, kind: str) -> None:
        """A new policy: offer its parameter values on the slider (or disable it) and show the result."""
        values = parameter_values(kind)
        # the chosen button carries a tick, not only a colour
        self.policy.icons = ["check" if name == kind else "" for _, name in POLICY_CHOICES]
        self._switching = True  # the slider's own events are ignored while its options change
        try:
            self.knob.options = [(knob_label(kind, v), v) for v in values] or ["-"]
            self.knob.value = values[0] if values else "-"
            self.knob.description = OUTPUT_KINDS[kind].knob
            self.knob.disabled = not values
        finally:
            self._switching = False
        self.show(kind, self.knob.value)

    def show(self, kind: str, value) -> PanelView:
        """Put one setting's view on screen."""
        view = panel_view(self.data, kind, None if value == "-" else value, self.explanation.value)
        self.title.value = f"<h4 style='margin:4px 0' aria-live='polite'>Setting: {html.escape(view.title)}</h4>"
        self.response.value, self.metrics.value, self.picture.value = view.response, view.metrics, view.picture
        self.adaptive_picture.value = view.adaptive_picture
        self.picture_caption.value, self.adaptive_caption.value = (f"<i>{html.escape(c)}</i>" for c in picture_captions(view))
        return view

    def _repr_mimebundle_(self, **kwargs):
        return self.box._repr_mimebundle_(**kwargs)


def show_control_panel(data: PanelData) -> ControlPanel:
    """The lab 04 control panel for measured results (see `prepare_panel`)."""
    return ControlPanel(data)


MAX_RECOGNISED = 0.05  # lab 04's security requirement: the strict evaluator recognises at most twice chance (2.5 %)


def acceptable_settings(data: PanelData, min_top5: float = 0.98, max_score_error: float = 0.02,
                        max_recognised: float = MAX_RECOGNISED, attacker: str = "adaptive") -> list[tuple]:
    """Settings that keep the users' requirements and hold the attacker (adaptive or naive) to `max_recognised`:
    the share of people the strict evaluator recognises in its reconstructions."""
    def recognised(r: SettingResult) -> float:
        return (r.adaptive if attacker == "adaptive" else r.face).recognised_top1

    return [key for key, r in data.results.items() if r.utility["top5"] >= min_top5
            and r.utility["score_error"] <= max_score_error and recognised(r) <= max_recognised]
