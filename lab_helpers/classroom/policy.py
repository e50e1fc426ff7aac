"""A blue team's policy file (TOML): what each role's keys may see and send at the team's door, and the detector.

Red learners hold the same kind of key as the public apps (role `app`): whatever a blue team takes from them, it
takes from its ordinary apps too. Door cameras (role `camera`) are keys no red learner holds. The file is read
when a round starts; a round's policy is kept with the round, so a restart never changes the rules mid-round.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import tomllib

from ..defences.access import AccessPolicy, RateLimit, Role
from ..defences.monitoring import AdaptiveDetector, BaselineDetector
from ..defences.output_policies import POLICY_SPELLINGS, parse_policy

CLASS_ROLES = ("app", "camera")  # red learners and the ordinary apps hold `app` keys; cameras hold `camera` keys
DETECTORS = ("none", "baseline", "adaptive")
ROLE_FIELDS = ("outputs", "burst", "per_minute", "per_day")

POLICY_TEMPLATE = """\
# Blue team policy for one door of the class target (TOML). Change it between rounds; the next round reads it.
# A round is shorter than a day, so per_day is in effect the whole round's quota for one key.

max_batch = 50            # the most images one request may carry

[roles.app]               # public app developers' keys -- the red learners hold these too
outputs = ["probabilities", "label_score", "label"]   # the first is the default answer; choose from:
                          # probabilities, noisy:SCALE, rounded:DECIMALS, top_k:K, label_score, label
burst = 500               # queries a key may send at once ...
per_minute = 3000         # ... and per minute after that
per_day = 100000          # ... and in all

[roles.camera]            # the door cameras' keys (ordinary traffic only; they need the right name)
outputs = ["label"]
burst = 100
per_minute = 300
per_day = 50000

[detector]
kind = "adaptive"         # adaptive (lab 06's, per key and per address), baseline (the first one, for the lesson) or none
block_on_alert = false    # true: a key is suspended at this door when the detector flags it
# any of the detector's thresholds may follow, e.g. for the adaptive one:
# identity_per_day = 500
"""


class PolicyFileError(ValueError):
    """A blue team's policy file that cannot be used: which file, which field, what to write instead."""


class _NoDetector:
    """A detector that raises no alert (a door without monitoring)."""

    def observe(self, *args, **kwargs) -> list:
        """Nothing is flagged."""
        return []


@dataclass(frozen=True)
class BluePolicy:
    """One blue team's rules for its door: roles (outputs and limits), batch size, detector and its settings."""

    team: str
    text: str
    roles: dict[str, Role]
    max_batch: int = 50
    detector: str = "adaptive"
    detector_settings: dict = field(default_factory=dict)
    block_on_alert: bool = False

    def access_policy(self) -> AccessPolicy:
        """A fresh AccessPolicy with these roles and limits (no keys yet)."""
        return AccessPolicy(roles=dict(self.roles), max_batch=self.max_batch, block_on_alert=self.block_on_alert)

    def make_detector(self):
        """A fresh detector of the chosen kind with the file's settings."""
        if self.detector == "none":
            return _NoDetector()
        kind = AdaptiveDetector if self.detector == "adaptive" else BaselineDetector
        return kind(**self.detector_settings)

    def summary(self) -> str:
        """One line a scoreboard can show, e.g. 'app: label, label_score · 600/min · adaptive detector, blocks'."""
        app = self.roles["app"]
        outputs = ", ".join(p.describe() if p.record.parameter else p.kind for p in app.outputs)
        watch = "no detector" if self.detector == "none" else f"{self.detector} detector"
        blocks = ", blocks" if self.block_on_alert and self.detector != "none" else ""
        return (f"app keys: {outputs} · burst {app.limit.burst:,}, {app.limit.per_minute:g}/min, "
                f"{app.limit.per_day:,} in all · {watch}{blocks}")


def _role(team_source: str, name: str, table) -> Role:
    if not isinstance(table, dict):
        raise PolicyFileError(f"{team_source}: [roles.{name}] must be a table of {', '.join(ROLE_FIELDS)}.")
    unknown = sorted(set(table) - set(ROLE_FIELDS))
    missing = [f for f in ROLE_FIELDS if f not in table]
    if unknown or missing:
        raise PolicyFileError(f"{team_source}: [roles.{name}] " + (f"has unknown field(s) {unknown}; " if unknown else "")
                              + (f"lacks {missing}; " if missing else "") + f"it needs exactly {', '.join(ROLE_FIELDS)}.")
    outputs = table["outputs"]
    if not isinstance(outputs, list) or not outputs or not all(isinstance(o, str) for o in outputs):
        raise PolicyFileError(f"{team_source}: [roles.{name}] outputs must be a list of one or more of: {POLICY_SPELLINGS}.")
    try:
        policies = tuple(parse_policy(o) for o in outputs)
        limit = RateLimit(burst=table["burst"], per_minute=table["per_minute"], per_day=table["per_day"])
    except ValueError as exc:
        raise PolicyFileError(f"{team_source}: [roles.{name}]: {exc}") from None
    if len({p.kind for p in policies}) < len(policies):
        raise PolicyFileError(f"{team_source}: [roles.{name}] lists one output kind twice; keep one of each.")
    return Role(name, policies, limit)


def parse_blue_policy(team: str, text: str, source: str = "policy") -> BluePolicy:
    """A BluePolicy from the file's text; PolicyFileError says what is wrong and where."""
    where = f"{source} (team {team})"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyFileError(f"{where}: not valid TOML ({exc}). Start again from "
                              "`python -m lab_helpers class-target policy-template`.") from None
    unknown = sorted(set(data) - {"max_batch", "roles", "detector"})
    if unknown:
        raise PolicyFileError(f"{where}: unknown setting(s) {unknown}; a policy has max_batch, [roles.app], "
                              "[roles.camera] and [detector].")
    roles = data.get("roles")
    if not isinstance(roles, dict) or sorted(roles) != sorted(CLASS_ROLES):
        have = sorted(roles) if isinstance(roles, dict) else []
        raise PolicyFileError(f"{where}: needs exactly the roles {list(CLASS_ROLES)} ([roles.app] and [roles.camera]); "
                              f"found {have}.")
    parsed = {name: _role(where, name, roles[name]) for name in CLASS_ROLES}
    max_batch = data.get("max_batch", 50)
    if not isinstance(max_batch, int) or isinstance(max_batch, bool) or not 1 <= max_batch <= 100:
        raise PolicyFileError(f"{where}: max_batch must be a whole number from 1 to 100 (got {max_batch!r}).")
    detector = dict(data.get("detector", {}))
    kind = detector.pop("kind", "adaptive")
    block = detector.pop("block_on_alert", False)
    if kind not in DETECTORS:
        raise PolicyFileError(f"{where}: [detector] kind must be one of {', '.join(DETECTORS)} (got {kind!r}).")
    if not isinstance(block, bool):
        raise PolicyFileError(f"{where}: [detector] block_on_alert must be true or false (got {block!r}).")
    if kind == "none" and detector:
        raise PolicyFileError(f"{where}: [detector] kind = \"none\" takes no settings (got {sorted(detector)}).")
    policy = BluePolicy(team, text, parsed, max_batch, kind, detector, block)
    try:
        policy.make_detector()
    except TypeError:
        fields = sorted((AdaptiveDetector if kind == "adaptive" else BaselineDetector).__dataclass_fields__)
        fields = [f for f in fields if f not in ("states", "queries", "fired")]
        raise PolicyFileError(f"{where}: [detector] has a setting the {kind} detector does not know "
                              f"({sorted(detector)}); its settings: {', '.join(fields)}.") from None
    except ValueError as exc:
        raise PolicyFileError(f"{where}: [detector]: {exc}") from None
    return policy


def read_blue_policy(team: str, path: str | Path) -> BluePolicy:
    """Read and check a blue team's policy file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyFileError(f"{path} (team {team}): cannot be read ({exc.strerror}). Write one with "
                              "`python -m lab_helpers class-target policy-template > FILE`.") from None
    return parse_blue_policy(team, text, str(path))
