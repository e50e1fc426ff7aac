"""One contract for every face attack: the same names for the same settings, tuning settings by keyword only, and the
same `Reconstructions` back (with queries, signal, seconds and why it stopped), whichever attack ran."""
from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch

from lab_helpers.attacks import (
    AdaptiveReconstructions,
    EvasionRun,
    NAIVE,
    ObservedOutput,
    Reconstructions,
    evade_black_box,
    fit_pca_prior,
    invert_adaptive,
    invert_black_box,
    invert_label_only,
    invert_prior_black_box,
    invert_prior_label_only,
    invert_prior_white_box,
    invert_white_box,
    invert_with_explanations,
    public_lookup,
)
from lab_helpers.service import ModelAPI

ATTACKS = [invert_white_box, invert_black_box, invert_label_only, invert_adaptive, invert_prior_white_box,
           invert_prior_black_box, invert_prior_label_only, evade_black_box, invert_with_explanations]
# what may be passed by position: the target (model, API or keys), the prior, the people
POSITIONAL = {"model", "api", "apis", "prior", "identities"}
# one spelling each: the old ones must not come back
RETIRED = {"queries_per_identity", "directions", "learning_rate", "steps", "queries"}


@pytest.mark.parametrize("attack", ATTACKS, ids=lambda f: f.__name__)
def test_tuning_settings_are_keyword_only_and_spelled_one_way(attack):
    parameters = inspect.signature(attack).parameters.values()
    by_position = {p.name for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)}
    assert by_position <= POSITIONAL, f"{attack.__name__}: {sorted(by_position - POSITIONAL)} may be passed by position"
    names = {p.name for p in parameters}
    assert not names & RETIRED, f"{attack.__name__} still spells {sorted(names & RETIRED)}"


def _documented():
    from lab_helpers.classroom import attack_door
    from lab_helpers.evaluation import run_inversion

    return ATTACKS + [run_inversion, attack_door]


@pytest.mark.parametrize("function", _documented(), ids=lambda f: f.__name__)
def test_every_parameter_is_described_in_a_parameters_section(function):
    doc = inspect.getdoc(function) or ""
    assert "Parameters\n----------" in doc, f"{function.__name__} needs a 'Parameters' section"
    section = doc.split("Parameters\n----------", 1)[1]
    for name in inspect.signature(function).parameters:
        assert name in section, f"{function.__name__}: the Parameters section does not describe {name!r}"


@pytest.mark.parametrize("attack", [invert_black_box, invert_label_only, invert_adaptive], ids=lambda f: f.__name__)
def test_a_budget_passed_by_position_is_refused(attack):
    api = ModelAPI(lambda x: np.full((len(x), 40), 1 / 40), input_size=4096)
    with pytest.raises(TypeError):
        attack(api, [0], 500)
    assert api.queries == 0


class TinyTarget:
    """A linear face classifier of 40 people: enough to exercise every attack's plumbing in a second."""

    def __init__(self, seed: int = 0):
        torch.manual_seed(seed)
        self.net = torch.nn.Linear(4096, 40)

    def predict_proba(self, x):
        with torch.no_grad():
            return torch.softmax(self.net(torch.as_tensor(np.asarray(x, dtype=np.float32))), 1).numpy()


@pytest.fixture(scope="module")
def tiny():
    return TinyTarget()


@pytest.fixture(scope="module")
def prior(faces):
    from lab_helpers.data import public_private_split

    return fit_pca_prior(public_private_split(faces)[1], dim=10)


def every_attack(tiny, prior, faces):
    """name -> (run, expected class, queries per person it may spend): each attack on people 3 and 7."""
    ids = [3, 7]

    def api(output="probabilities"):
        return ModelAPI(tiny.predict_proba, output, input_size=4096)

    return {
        "white-box": (lambda: invert_white_box(tiny, ids, iterations=5, progress=False), Reconstructions, 0),
        "black-box": (lambda: invert_black_box(api(), ids, queries_per_person=200, probes=10, progress=False),
                      Reconstructions, 200),
        "label-only": (lambda: invert_label_only(api("label"), ids, queries_per_person=200, progress=False),
                       Reconstructions, 200),
        "adaptive": (lambda: invert_adaptive(api("rounded:2"), ids, queries_per_person=300, progress=False),
                     AdaptiveReconstructions, 300),
        "prior-white-box": (lambda: invert_prior_white_box(tiny, prior, ids, iterations=5, starts=2, progress=False),
                            Reconstructions, 0),
        "prior-black-box": (lambda: invert_prior_black_box(api(), prior, ids, queries_per_person=100, progress=False),
                            Reconstructions, 100),
        "prior-label-only": (lambda: invert_prior_label_only(api("label"), prior, ids, queries_per_person=100,
                                                             progress=False), Reconstructions, 100),
        "evasion": (lambda: evade_black_box({"k": api()}, ids, queries_per_person=200, probes=10, pacing=NAIVE),
                    EvasionRun, 200),
        "public-lookup": (lambda: public_lookup(api(), faces.only(np.arange(20, 40)), ids), Reconstructions, 200),
    }


def test_every_attack_returns_the_same_reconstructions(tiny, prior, faces):
    for name, (run, kind, budget) in every_attack(tiny, prior, faces).items():
        rec = run()
        assert isinstance(rec, kind) and isinstance(rec, Reconstructions), name
        assert rec.attack == name and rec.strategy, f"{name}: the result names its attack and how it went about it"
        assert rec.images.shape == (2, 64, 64) and rec.identities.tolist() == [3, 7], name
        assert rec.queries.shape == (2,) and rec.signal.shape == (2,) and rec.signal.dtype == bool, name
        assert rec.queries_per_person == rec.queries.max() <= budget, name
        assert rec.total_queries >= rec.queries.sum() and rec.seconds >= 0, name
        assert rec.stopped == "" and rec.finished, name
    adaptive = every_attack(tiny, prior, faces)["adaptive"][0]()
    assert isinstance(adaptive.observed, ObservedOutput) and adaptive.shared_queries == adaptive.observed.queries


def test_an_attack_stopped_early_says_why_and_keeps_its_faces(tiny, prior):
    from lab_helpers.attacks import ProbeRouter

    api = ModelAPI(tiny.predict_proba, input_size=4096)
    run = evade_black_box(ProbeRouter({"k": api}, pacing=NAIVE, offset=0.0, max_queries=100), [3, 7],
                          queries_per_person=200, probes=10)
    assert not run.finished and "query bound" in run.stopped and run.stopped_by == run.stopped
    assert run.images.shape == (2, 64, 64) and run.answered <= 100

    class Refusing:
        queries = 0

        def query(self, x):
            raise RuntimeError("HTTP 403: key suspended")

    rec = invert_prior_black_box(Refusing(), prior, [3, 7], queries_per_person=100, progress=False,
                                 stop_on=(RuntimeError,))
    assert rec.stopped == "HTTP 403: key suspended" and not rec.finished and rec.images.shape == (2, 64, 64)


def test_invert_picks_its_attack_from_one_table():
    from lab_helpers.evaluation.inversion import ATTACKS as TABLE, PRIOR_ATTACKS, AttackEntry, run_inversion
    from lab_helpers.kit.cli import make_parser

    assert all(isinstance(entry, AttackEntry) and callable(entry.run) for entry in TABLE.values())
    assert set(PRIOR_ATTACKS) == {"prior-white-box", "prior-black-box", "prior-label-only"}
    invert = make_parser()._subparsers._group_actions[0].choices["invert"]
    help_text = next(a.help for a in invert._actions if a.dest == "attack")
    assert all(name in help_text for name in TABLE)
    source = inspect.getsource(run_inversion)
    assert not any(f'attack == "{name}"' in source for name in TABLE), "run_inversion branches on attack names"
    with pytest.raises(ValueError, match="valid attacks are white-box, black-box"):
        run_inversion(attack="white-bx")
