"""A seeded synthetic table of people with one sensitive attribute that truly drives the target.

One generator, several framings: a framing (a `Framing` spec) names the columns, their ranges and
how strongly each one pushes a hidden score; the target is that score cut into bands. The default
framing is healthcare (an anticoagulant's starting-dose band, driven by a genotype, as genotype
drives warfarin dose in Fredrikson et al. 2014); `CREDIT` frames the same mechanism as credit risk.
Every row is made up: no real person is in these tables.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..paths import data_dir


@dataclass(frozen=True)
class Numeric:
    """A numeric column: normal(mean, sd) clipped to [low, high]; effect = push on the score per sd."""

    name: str
    description: str
    mean: float
    sd: float
    low: float
    high: float
    decimals: int = 0
    effect: float = 0.0


@dataclass(frozen=True)
class Category:
    """A categorical column: values drawn with probs; effects = push on the score of each value."""

    name: str
    description: str
    values: tuple[str, ...]
    probs: tuple[float, ...]
    effects: tuple[float, ...] | None = None


@dataclass(frozen=True)
class Proxy:
    """A column with no effect of its own, drawn given the sensitive value: it correlates with it."""

    name: str
    description: str
    values: tuple[str, ...]
    given: dict[str, tuple[float, ...]]  # sensitive value -> probabilities of the proxy values


@dataclass(frozen=True)
class Framing:
    """Everything that differs between framings of the same generator (columns, words, file name)."""

    key: str
    title: str
    scenario: str
    file_stem: str
    person: str
    numeric: tuple[Numeric, ...]
    categories: tuple[Category, ...]
    sensitive: Category
    sensitive_why: str
    proxy: Proxy
    target: str
    target_description: str
    classes: tuple[str, ...]
    class_shares: tuple[float, ...]
    noise_sd: float = 0.6

    @property
    def features(self) -> list[str]:
        """The model's input columns, in file order (the sensitive attribute is one of them)."""
        return ([c.name for c in self.numeric] + [c.name for c in self.categories]
                + [self.proxy.name, self.sensitive.name])

    @property
    def prior(self) -> dict[str, float]:
        """The sensitive attribute's population frequencies: what an attacker knows without the model."""
        return dict(zip(self.sensitive.values, self.sensitive.probs))


YES_NO = ("no", "yes")

HEALTHCARE = Framing(
    key="healthcare",
    title="Synthetic patients: anticoagulant starting dose",
    scenario=("A hospital trains a model that recommends a starting-dose band for an anticoagulant "
              "(a blood thinner like warfarin) from a patient's record, including a genetic marker."),
    file_stem="synthetic_patients",
    person="patient",
    numeric=(
        Numeric("age", "age in years", 58, 15, 18, 90, 0, -0.45),
        Numeric("height_cm", "height in cm", 170, 10, 145, 200, 0, 0.25),
        Numeric("weight_kg", "body weight in kg", 80, 16, 40, 160, 1, 0.40),
        Numeric("alcohol_units_week", "alcohol, units per week", 6, 5, 0, 40, 0, 0.10),
        Numeric("exercise_hours_week", "exercise, hours per week", 3, 2, 0, 15, 1, 0.0),
        Numeric("systolic_bp", "systolic blood pressure, mmHg", 130, 15, 90, 200, 0, 0.0),
        Numeric("cholesterol_mmol", "total cholesterol, mmol/L", 5.2, 1.0, 2.5, 9.5, 1, 0.0),
    ),
    categories=(
        Category("sex", "sex recorded at birth", ("female", "male"), (0.5, 0.5), (0.0, 0.15)),
        Category("smoker", "current smoker", YES_NO, (0.8, 0.2), (0.0, 0.30)),
        Category("takes_amiodarone", "also takes amiodarone (raises the blood thinner's effect)", YES_NO,
                 (0.88, 0.12), (0.0, -0.90)),
        Category("takes_enzyme_inducer", "also takes an enzyme inducer (lowers the blood thinner's effect)",
                 YES_NO, (0.93, 0.07), (0.0, 0.90)),
    ),
    sensitive=Category("vkorc1_genotype", "VKORC1 genotype (a genetic marker of warfarin sensitivity)",
                       ("GG", "AG", "AA"), (0.38, 0.44, 0.18), (1.0, 0.0, -1.2)),
    sensitive_why=("genetic data is special-category personal data (GDPR Art. 9): it reveals health risks "
                   "and ancestry, and also says something about the patient's relatives"),
    proxy=Proxy("family_history", "a close relative needed an unusually low dose of a blood thinner",
                YES_NO, {"GG": (0.9, 0.1), "AG": (0.72, 0.28), "AA": (0.35, 0.65)}),
    target="dose_band",
    target_description="recommended starting-dose band",
    classes=("low", "standard", "high"),
    class_shares=(0.3, 0.4, 0.3),
)

CREDIT = Framing(
    key="credit",
    title="Synthetic loan applicants: credit-risk band",
    scenario=("A lender trains a model that assigns a credit-risk band to a loan application, using an "
              "applicant's record that includes a health condition (to 'account for' medical costs)."),
    file_stem="synthetic_applicants",
    person="applicant",
    numeric=(
        Numeric("age", "age in years", 42, 12, 18, 80, 0, -0.20),
        Numeric("income_k", "yearly income, thousands", 48, 18, 8, 200, 1, -0.40),
        Numeric("debt_to_income", "debt-to-income ratio", 0.35, 0.15, 0.0, 1.2, 2, 0.45),
        Numeric("years_employed", "years with the current employer", 6, 5, 0, 45, 0, -0.20),
        Numeric("open_accounts", "open credit accounts", 5, 3, 0, 25, 0, 0.0),
        Numeric("late_payments_2y", "late payments in the last two years", 1, 1.5, 0, 12, 0, 0.45),
        Numeric("loan_amount_k", "loan amount requested, thousands", 15, 9, 1, 80, 1, 0.0),
    ),
    categories=(
        Category("home_owner", "owns their home", YES_NO, (0.45, 0.55), (0.2, -0.2)),
        Category("loan_purpose", "what the loan is for", ("car", "home", "education", "other"),
                 (0.35, 0.25, 0.15, 0.25), (0.0, -0.2, 0.1, 0.3)),
        Category("has_guarantor", "a guarantor co-signs", YES_NO, (0.85, 0.15), (0.0, -0.6)),
        Category("self_employed", "self-employed", YES_NO, (0.85, 0.15), (0.0, 0.3)),
    ),
    sensitive=Category("health_condition", "long-term health condition", ("none", "managed", "serious"),
                       (0.55, 0.30, 0.15), (-0.6, 0.2, 1.4)),
    sensitive_why=("health data is special-category personal data (GDPR Art. 9); using it in lending may "
                   "also be unlawful discrimination"),
    proxy=Proxy("pharmacy_spend", "monthly pharmacy spending seen on the applicant's bank statement",
                ("low", "medium", "high"),
                {"none": (0.75, 0.2, 0.05), "managed": (0.3, 0.5, 0.2), "serious": (0.1, 0.35, 0.55)}),
    target="risk_band",
    target_description="credit-risk band",
    classes=("low", "medium", "high"),
    class_shares=(0.3, 0.4, 0.3),
)

HIRING = Framing(
    key="hiring",
    title="Synthetic job applicants: screening band",
    scenario=("An employer trains a model that sorts job applications into screening bands, from an application "
              "record that includes a disability disclosure (collected to 'plan adjustments')."),
    file_stem="synthetic_job_applicants",
    person="applicant",
    numeric=(  # effects push towards 'reject': the model learned from past screeners' decisions
        Numeric("age", "age in years", 38, 10, 18, 67, 0, 0.10),
        Numeric("years_experience", "years of relevant experience", 8, 6, 0, 40, 0, -0.50),
        Numeric("test_score", "score on the employer's skills test, 0-100", 65, 15, 0, 100, 0, -0.60),
        Numeric("certifications", "professional certifications held", 2, 1.5, 0, 10, 0, -0.20),
        Numeric("commute_km", "commute distance, km", 15, 12, 0, 120, 0, 0.10),
        Numeric("salary_expectation_k", "salary expectation, thousands", 45, 12, 15, 150, 1, 0.20),
        Numeric("languages", "languages spoken", 1.5, 0.8, 1, 5, 0, -0.10),
    ),
    categories=(
        Category("degree", "highest degree", ("none", "bachelor", "master", "doctorate"), (0.3, 0.45, 0.2, 0.05),
                 (0.0, -0.3, -0.45, -0.5)),
        Category("referred", "referred by an employee", YES_NO, (0.8, 0.2), (0.0, -0.4)),
        Category("relocation_ok", "willing to relocate", YES_NO, (0.5, 0.5), (0.0, -0.1)),
        Category("remote_only", "asks for remote work only", YES_NO, (0.75, 0.25), (0.0, 0.3)),
    ),
    sensitive=Category("disability", "disclosed disability", ("none", "declared"), (0.85, 0.15), (0.0, 1.6)),
    sensitive_why=("disability is health data, special-category personal data (GDPR Art. 9), and screening on it is "
                   "unlawful discrimination in most jurisdictions; the past decisions this model learned from "
                   "penalised it"),
    proxy=Proxy("employment_gap", "the longest gap between two jobs", ("none", "short", "long"),
                {"none": (0.65, 0.3, 0.05), "declared": (0.15, 0.25, 0.6)}),
    target="screening_band",
    target_description="screening band",
    classes=("interview", "review", "reject"),
    class_shares=(0.25, 0.4, 0.35),
)

FRAMINGS = {"healthcare": HEALTHCARE, "credit": CREDIT, "hiring": HIRING}


def get_framing(framing: str | Framing) -> Framing:
    """A framing spec from its key ('healthcare', 'credit') or the spec itself."""
    if isinstance(framing, Framing):
        return framing
    if framing not in FRAMINGS:
        raise ValueError(f"Unknown framing {framing!r}. Valid framings: {', '.join(FRAMINGS)}.")
    return FRAMINGS[framing]


def _draw(rng: np.random.Generator, values: tuple[str, ...], probs, n: int) -> np.ndarray:
    """n values drawn with the given probabilities."""
    return np.asarray(values, dtype=object)[rng.choice(len(values), size=n, p=np.asarray(probs) / np.sum(probs))]


def hidden_score(frame: pd.DataFrame, framing: str | Framing = "healthcare") -> np.ndarray:
    """The noise-free score the target is cut from: the sum of every column's push."""
    spec = get_framing(framing)
    score = np.zeros(len(frame))
    for col in spec.numeric:
        score += col.effect * (frame[col.name].to_numpy(float) - col.mean) / col.sd
    for col in (*spec.categories, spec.sensitive):
        if col.effects:
            score += frame[col.name].map(dict(zip(col.values, col.effects))).to_numpy(float)
    return score


def make_people(framing: str | Framing = "healthcare", n: int = 3000, seed: int = 0) -> pd.DataFrame:
    """A synthetic table of n people: features, the sensitive attribute, its proxy and the target band."""
    spec = get_framing(framing)
    if n < 50:
        raise ValueError(f"Ask for at least 50 people (got n={n}); the labs use about 3000.")
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(index=range(n))
    for col in spec.numeric:
        values = np.clip(rng.normal(col.mean, col.sd, n), col.low, col.high).round(col.decimals)
        frame[col.name] = values.astype(int) if col.decimals == 0 else values
    for col in spec.categories:
        frame[col.name] = _draw(rng, col.values, col.probs, n)
    sensitive = _draw(rng, spec.sensitive.values, spec.sensitive.probs, n)
    proxy = np.empty(n, dtype=object)
    for value in spec.sensitive.values:
        rows = sensitive == value
        proxy[rows] = _draw(rng, spec.proxy.values, spec.proxy.given[value], int(rows.sum()))
    frame[spec.proxy.name] = proxy
    frame[spec.sensitive.name] = sensitive
    score = hidden_score(frame, spec) + rng.normal(0.0, spec.noise_sd, n)
    cuts = np.quantile(score, np.cumsum(spec.class_shares)[:-1])
    frame[spec.target] = np.asarray(spec.classes, dtype=object)[np.searchsorted(cuts, score)]
    return frame


def column_rows(framing: str | Framing = "healthcare") -> list[str]:
    """The data card's column table: one markdown row per column, with its push on the hidden score."""
    spec = get_framing(framing)
    rows = [f"| `{c.name}` | numeric | {c.description} | {c.low:g} to {c.high:g} | "
            + (f"{c.effect:+.2f} per sd |" if c.effect else "none |") for c in spec.numeric]
    for c in spec.categories:
        effects = ", ".join(f"{v} {e:+.2f}" for v, e in zip(c.values, c.effects or [0] * len(c.values)))
        rows.append(f"| `{c.name}` | category | {c.description} | {', '.join(c.values)} | {effects} |")
    rows.append(f"| `{spec.proxy.name}` | category (**proxy**) | {spec.proxy.description} | "
                f"{', '.join(spec.proxy.values)} | none of its own; correlated with `{spec.sensitive.name}` |")
    s = spec.sensitive
    rows.append(f"| `{s.name}` | category (**sensitive**) | {s.description} | {', '.join(s.values)} | "
                + ", ".join(f"{v} {e:+.2f}" for v, e in zip(s.values, s.effects)) + " |")
    rows.append(f"| `{spec.target}` | **target** | {spec.target_description} | {', '.join(spec.classes)} | — |")
    return rows


def data_card(framing: str | Framing = "healthcare", n: int = 3000, seed: int = 0) -> str:
    """A short markdown data card: what the table is, its columns, how it is made, what is sensitive."""
    spec = get_framing(framing)
    s = spec.sensitive
    proxy_lines = [f"- {v}: " + ", ".join(f"{pv} {p:.0%}" for pv, p in zip(spec.proxy.values, spec.proxy.given[v]))
                   for v in s.values]
    return "\n".join([
        f"# {spec.title} (`{spec.file_stem}.csv`)", "",
        "**Synthetic data.** Every row is generated by `lab_helpers.synthetic.make_people` "
        f"(framing `{spec.key}`, {n} rows, seed {seed}). No real {spec.person} is in this table; "
        "it is made for teaching model inversion.", "",
        f"**Scenario.** {spec.scenario}", "",
        f"**Sensitive attribute:** `{s.name}` — {s.description}. It is sensitive because {spec.sensitive_why}. "
        f"Population frequencies (the attacker's prior): "
        + ", ".join(f"{v} {p:.0%}" for v, p in zip(s.values, s.probs)) + ".", "",
        f"**Proxy:** `{spec.proxy.name}` has no effect on the target but is drawn given `{s.name}`, so it "
        "reveals part of it (useful for discussing data minimisation):", *proxy_lines, "",
        "## How it is generated",
        "1. Numeric columns: normal(mean, sd), clipped to the range shown, rounded.",
        "2. Categorical columns and the sensitive attribute: drawn independently with fixed frequencies; "
        "the proxy is drawn given the sensitive value.",
        f"3. A hidden score = sum of each column's push (last column of the table) + normal noise "
        f"(sd {spec.noise_sd}). The sensitive attribute is among the strongest pushes, so it truly drives "
        "the target; several columns have no push at all (things a record holds that the target does not need).",
        f"4. `{spec.target}` = the score cut at its quantiles into "
        + ", ".join(f"{c} ({p:.0%})" for c, p in zip(spec.classes, spec.class_shares)) + ".", "",
        "Regenerate with `python -m lab_helpers make-tabular-data`.", "",
        "## Columns", "",
        "| column | kind | meaning | values | push on the hidden score |",
        "|---|---|---|---|---|", *column_rows(spec), "",
    ])


def write_dataset(framing: str | Framing = "healthcare", folder: Path | None = None, n: int = 3000,
                  seed: int = 0) -> tuple[Path, Path]:
    """Write the CSV and its data card (markdown) into folder (the kit's data/ by default)."""
    spec = get_framing(framing)
    folder = Path(folder or data_dir())
    folder.mkdir(parents=True, exist_ok=True)
    csv, card = folder / f"{spec.file_stem}.csv", folder / f"{spec.file_stem}.md"
    csv.write_text(make_people(spec, n, seed).to_csv(index=False, lineterminator="\n"), encoding="utf-8")
    card.write_text(data_card(spec, n, seed), encoding="utf-8")
    return csv, card


def read_people(framing: str | Framing = "healthcare") -> pd.DataFrame:
    """The committed table from data/ (generated again, with the default seed, if the file is missing)."""
    spec = get_framing(framing)
    path = data_dir() / f"{spec.file_stem}.csv"
    if not path.is_file():
        print(f"{path} is missing: generating the same table again (python -m lab_helpers make-tabular-data writes it).")
        return make_people(spec)
    return pd.read_csv(path, dtype={c: str for c in spec.features if c not in {n.name for n in spec.numeric}})


@dataclass
class PeopleData:
    """The table, its framing and a fixed split into training members and held-out non-members."""

    frame: pd.DataFrame
    framing: Framing
    train_idx: np.ndarray
    test_idx: np.ndarray

    @property
    def features(self) -> list[str]:
        """The model's input columns (the sensitive attribute included, as in Fredrikson et al.)."""
        return self.framing.features

    @property
    def sensitive(self) -> str:
        """The name of the sensitive column."""
        return self.framing.sensitive.name

    @property
    def prior(self) -> dict[str, float]:
        """The sensitive attribute's population frequencies (the attacker's prior)."""
        return self.framing.prior

    @property
    def class_names(self) -> list[str]:
        """The target's classes, in the order of the model's scores."""
        return list(self.framing.classes)

    def labels(self, idx: np.ndarray) -> np.ndarray:
        """Target classes of the rows idx as numbers 0, 1, 2 (in class_names order)."""
        return self.frame[self.framing.target].iloc[idx].map(self.class_names.index).to_numpy(int)

    @property
    def X_train(self) -> pd.DataFrame:
        """The training members' input columns."""
        return self.frame[self.features].iloc[self.train_idx]

    @property
    def X_test(self) -> pd.DataFrame:
        """The held-out non-members' input columns."""
        return self.frame[self.features].iloc[self.test_idx]

    @property
    def y_train(self) -> np.ndarray:
        """The training members' target classes (numbers)."""
        return self.labels(self.train_idx)

    @property
    def y_test(self) -> np.ndarray:
        """The held-out non-members' target classes (numbers)."""
        return self.labels(self.test_idx)


def split_members(n: int, train_fraction: float = 0.5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Row numbers of training members and held-out non-members, shuffled with a fixed seed."""
    if not 0 < train_fraction < 1:
        raise ValueError(f"train_fraction must be between 0 and 1 (got {train_fraction}); the labs use 0.5.")
    order = np.random.default_rng(seed).permutation(n)
    cut = int(round(n * train_fraction))
    return np.sort(order[:cut]), np.sort(order[cut:])


def load_people(framing: str | Framing = "healthcare", train_fraction: float = 0.5, seed: int = 0) -> PeopleData:
    """The synthetic table from data/, split into training members and non-members (half each by default)."""
    spec = get_framing(framing)
    frame = read_people(spec)
    train_idx, test_idx = split_members(len(frame), train_fraction, seed)
    return PeopleData(frame, spec, train_idx, test_idx)


def target_shares(data: PeopleData, column: str | None = None) -> pd.DataFrame:
    """Percentage of people in each target class, for each value of column (the sensitive one by default)."""
    column = column or data.sensitive
    if column not in data.frame.columns:
        raise KeyError(f"{column!r} is not a column of the table. Columns: {list(data.frame.columns)}.")
    shares = pd.crosstab(data.frame[column], data.frame[data.framing.target], normalize="index") * 100
    order = [v for v in (data.prior if column == data.sensitive else shares.index) if v in shares.index]
    return shares.loc[order, data.class_names].round(1)
