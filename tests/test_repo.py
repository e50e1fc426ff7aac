"""The kit's set-up files agree with each other: pins, Binder, README commands and CI."""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

KIT = Path(__file__).resolve().parent.parent
README = (KIT / "README.md").read_text()


def requirement_names(path: Path) -> set[str]:
    names = set()
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-"):
            names.add(re.split(r"[<>=!~\[ ]", line)[0].lower())
    return names


def test_torch_is_pinned_to_the_cpu_build_version():
    lines = [ln.strip() for ln in (KIT / "requirements.txt").read_text().splitlines()]
    assert "torch==2.13.0" in lines
    assert "-e ." in lines


def test_binder_installs_cpu_only_torch_and_every_requirement():
    binder = KIT / "binder" / "requirements.txt"
    text = binder.read_text()
    assert "torch==2.13.0+cpu" in text and "download.pytorch.org/whl/cpu" in text
    from lab_helpers.kit.doctor import HUB_ONLY

    # Binder runs its own JupyterHub: a second jupyterhub (or nbgitpuller) in the image would mismatch it
    assert requirement_names(KIT / "requirements.txt") - HUB_ONLY <= requirement_names(binder)
    assert not HUB_ONLY & requirement_names(binder)
    post_build = (KIT / "binder" / "postBuild").read_text()
    assert "pip install --no-deps -e ." in post_build
    # a Binder session always starts from the image: the image is built warm, every lab prepared
    steps = [line.split("||")[0].strip() for line in post_build.splitlines() if line and not line.startswith("#")]
    assert "python -m lab_helpers prepare" in steps and steps.index("python -m lab_helpers prepare") > steps.index(
        "python -m lab_helpers fetch-data")


def test_readme_has_binder_badge_opening_lab_00_and_says_the_url_is_a_placeholder():
    assert "mybinder.org/badge_logo.svg" in README and "labs/00_orientation.ipynb" in README
    assert "placeholder" in README.lower()


def readme_commands() -> list[str]:
    return re.findall(r"```bash\n(.+?)\n```", README)


def test_readme_gives_the_two_commands_and_ci_runs_the_test_command():
    install, test = readme_commands()[:2]
    assert "pip install -r requirements.txt" in install and "jupyter lab" in install
    assert "pytest" in test
    assert test in (KIT / ".ci" / "run").read_text()


def test_readme_credits_the_face_data():
    assert "AT&T Laboratories Cambridge" in README


def test_face_data_is_never_tracked_and_cache_is_ignored():
    tracked = subprocess.run(["git", "ls-files"], cwd=KIT, capture_output=True, text=True).stdout.split()
    assert not [p for p in tracked if p.endswith(".pkz") or p.startswith("data/cache/")]
    ignored = subprocess.run(["git", "check-ignore", "-q", "data/cache/olivetti_py3.pkz"], cwd=KIT)
    assert ignored.returncode == 0


def test_readme_lists_every_lab_that_exists():
    for path in (KIT / "solutions").glob("*.ipynb"):
        assert path.name in README


def test_importing_the_package_does_no_work():
    code = "import sys, lab_helpers; heavy = {'torch', 'sklearn', 'matplotlib', 'ipywidgets'} & set(sys.modules); print(sorted(heavy))"
    out = subprocess.run([__import__("sys").executable, "-c", code], capture_output=True, text=True, cwd="/")
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_no_exported_name_is_also_a_submodule_name():
    # `from lab_helpers import X` would return the submodule X once it has been imported anywhere.
    import pkgutil

    import lab_helpers

    modules = {m.name for m in pkgutil.iter_modules(lab_helpers.__path__)}
    assert not modules & set(lab_helpers.__all__)


def test_every_lab_states_the_same_time_in_the_notebook_and_the_instructor_guide():
    guide = (KIT / "docs" / "instructor_guide.md").read_text()
    for path in sorted((KIT / "solutions").glob("*.ipynb")):
        number = path.name[:2]
        stated = re.search(r"\*\*Time:\*\* about (\d+) minutes", path.read_text())
        planned = re.search(rf"### Lab {number} — .*\(about (\d+) minutes\)", guide)
        assert stated and planned, f"lab {number}: a time in the notebook and a '### Lab {number}' heading in the guide"
        assert stated.group(1) == planned.group(1), f"lab {number}: {stated.group(1)} min in the notebook, {planned.group(1)} in the guide"


GLOSSED = {  # a term, and the words that must stand near its first use in that lab
    "03_face_reconstruction.ipynb": {"NES": "natural evolution strategies", "DCT": "smooth wave patterns",
                                     "TV": "total variation", "MLP": "multi-layer perceptron",
                                     "softmax regression": "one linear score per person"},
    "01_overfit_vs_regularised.ipynb": {"TPR − FPR": "share of members flagged"},
    "00_orientation.ipynb": {"softmax regression": "one linear score per person"},
}


def test_glossary_explains_the_terms_and_every_lab_links_to_it():
    glossary = (KIT / "docs" / "glossary.md").read_text()
    for term in ("NES", "DCT basis", "total variation", "softmax", "MLP", "TPR − FPR", "DP-SGD", "lineup", "recognised",
                 "query multiplier"):
        assert f"**{term}" in glossary or f"{term}" in glossary.split("|")[1::3].__str__(), term
    for path in sorted((KIT / "solutions").glob("*.ipynb")):
        nb = json.loads(path.read_text())
        header = "".join(nb["cells"][0]["source"])
        assert "../docs/glossary.md" in header, f"{path.name}: link the glossary in the header"
        text = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
        for term, gloss in GLOSSED.get(path.name, {}).items():
            first = text.find(term)
            assert first >= 0 and gloss in text[max(0, first - 300):first + 400], f"{path.name}: gloss {term} at first use"


def time_tables() -> tuple[dict, dict]:
    """The guide's 'Time and memory per lab' rows and performance.md's 'Every lab on one CPU' rows, by lab number:
    (cold seconds, warm seconds, peak MB)."""
    guide = (KIT / "docs" / "instructor_guide.md").read_text().split("## Time and memory per lab", 1)[1].split("\n## ", 1)[0]
    perf = (KIT / "docs" / "performance.md").read_text().split("## Every lab on one CPU", 1)[1].split("\n## ", 1)[0]
    planned = {m[0]: (int(m[1]), int(m[2]), int(m[3]))
               for m in re.findall(r"^\| (\d\d) [^|]+\| (\d+) \| (\d+) \| (\d+) MB \|$", guide, flags=re.M)}
    measured = {m[0]: (int(m[1]), int(m[3]), max(int(m[2]), int(m[4])))
                for m in re.findall(r"^\| (\d\d)_\S+\.ipynb \| (\d+) \| (\d+) \| (\d+) \| (\d+) \|$", perf, flags=re.M)}
    return planned, measured


def test_the_guide_and_performance_md_list_every_lab_with_the_same_times():
    """Every notebook (the mock exam of lab 10 too) has a row in both tables, with the same cold and warm seconds;
    the guide's peak is the larger of the two measured peaks."""
    planned, measured = time_tables()
    labs = {p.name[:2] for p in (KIT / "solutions").glob("*.ipynb")}
    assert set(planned) == set(measured) == labs, (sorted(planned), sorted(measured), sorted(labs))
    assert planned == measured
    assert "10" in labs and planned["10"][0] <= 120  # the mock exam's notebook starts in seconds
