"""The package's layout tells the story: subpackages in layers, no import cycles, lessons import from subpackages."""
from __future__ import annotations

import ast
import importlib
import json
import re
from pathlib import Path

import pytest

KIT = Path(__file__).resolve().parent.parent
PACKAGE = KIT / "lab_helpers"
# Lowest first: a module may import from its own layer or a lower one, never from a higher one.
LAYERS = ["lazy", "paths", "compute", "formatting", "data", "targets", "defences", "service", "attacks", "judges", "evaluation",
          "governance", "classroom", "exam", "ui", "kit"]
SUBPACKAGES = [name for name in LAYERS if (PACKAGE / name).is_dir()]
TOP_LEVEL_MODULES = {"__init__", "__main__", "lazy", "paths", "compute", "formatting"}
TOP_LEVEL_NAMES = {"load_faces", "load_people", "placeholder", "percent"}


def module_name(path: Path) -> str:
    parts = path.relative_to(KIT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    """Every lab_helpers module this file imports, at the top or inside a function."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("lab_helpers"):
                found.add(target)
                for alias in node.names:  # `from . import x` imports the module x
                    if (KIT / Path(*target.split("."), alias.name)).with_suffix(".py").exists():
                        found.add(f"{target}.{alias.name}")
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("lab_helpers")}
    return found


def module_graph() -> dict[str, set[str]]:
    graph = {module_name(p): imported_modules(p) for p in PACKAGE.rglob("*.py")}
    # a subpackage's own __init__ is where `from .x import` leads, so an import of a subpackage is an edge to it
    return {m: {t for t in targets if t != m} for m, targets in graph.items()}


def layer(module: str) -> str | None:
    parts = module.split(".")
    if len(parts) < 2:
        return None  # the package's own __init__ only names what it loads lazily
    return "kit" if parts[1] == "__main__" else parts[1]


def test_only_the_shared_pieces_sit_at_the_top_of_the_package():
    top = {p.stem for p in PACKAGE.glob("*.py")}
    assert top == TOP_LEVEL_MODULES, f"modules outside a subpackage: {sorted(top - TOP_LEVEL_MODULES)}"
    dirs = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert dirs == set(SUBPACKAGES), f"subpackages not in the layer order: {sorted(dirs - set(SUBPACKAGES))}"


def test_no_module_imports_from_a_higher_layer():
    upward = []
    for module, targets in module_graph().items():
        here = layer(module)
        for target in targets:
            there = layer(target)
            if here and there and LAYERS.index(there) > LAYERS.index(here):
                upward.append(f"{module} -> {target}")
    assert upward == [], "imports that run up the layers:\n" + "\n".join(sorted(upward))


def test_there_is_no_import_cycle():
    graph = module_graph()
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt in graph and not state.get(nxt):
                visit(nxt, stack + [nxt])
        state[node] = 2

    for node in sorted(graph):
        if not state.get(node):
            visit(node, [node])
    # a module importing its own subpackage's __init__ (which imports it back) would be a cycle too
    assert cycles == []


def test_the_layer_check_can_fail(tmp_path):
    bad = tmp_path / "lab_helpers" / "data" / "bad.py"
    bad.parent.mkdir(parents=True)
    bad.write_text("from ..ui.plots import show_face_grid\n")
    name = ".".join(bad.relative_to(tmp_path).with_suffix("").parts)
    package = name.rsplit(".", 1)[0]
    node = ast.parse(bad.read_text()).body[0]
    target = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + [node.module])
    assert target == "lab_helpers.ui.plots" and LAYERS.index(layer(target)) > LAYERS.index(layer(name))


@pytest.mark.parametrize("name", SUBPACKAGES)
def test_each_subpackage_says_what_lives_there_and_exports_it(name):
    module = importlib.import_module(f"lab_helpers.{name}")
    doc = (module.__doc__ or "").strip()
    assert doc and "\n" not in doc, f"lab_helpers.{name} needs a one-line docstring saying what lives there"
    exported = list(module.__all__)
    assert exported and len(exported) == len(set(exported))
    for public in exported:
        assert hasattr(module, public), f"lab_helpers.{name}.__all__ names {public}, which it does not define"
    submodules = {p.stem for p in (PACKAGE / name).glob("*.py")}
    assert not submodules & set(exported), "an exported name shadowed by a submodule of the same name"


@pytest.mark.parametrize("name", SUBPACKAGES)
def test_each_subpackage_lists_its_exports_once_in_its_stub(name):
    """The export list lives in __init__.pyi (editors and type checkers read it; attach_stub reads it at run time)."""
    from lab_helpers.lazy import stub_exports

    init = PACKAGE / name / "__init__.py"
    assert (PACKAGE / name / "__init__.pyi").is_file()
    code = init.read_text(encoding="utf-8")
    assert "attach_stub(__name__, __file__)" in code and "TYPE_CHECKING" not in code and "attach(" not in code
    exports = stub_exports(str(init))
    for module, names in exports.items():
        assert (PACKAGE / name / f"{module}.py").is_file(), f"{name}/__init__.pyi names a module {module} that is gone"
        defined = set(dir(importlib.import_module(f"lab_helpers.{name}.{module}")))
        assert set(names) <= defined, f"{name}.{module} does not define {sorted(set(names) - defined)}"


def test_every_export_is_used_outside_its_own_module():
    """A subpackage exports a name only when a lesson, a test, a script, the docs or another module uses it."""
    from lab_helpers.lazy import stub_exports

    files = [p for folder in ("lab_helpers", "tests", "solutions", "benchmarks", "dashboards", "docs")
             for p in (KIT / folder).rglob("*") if p.suffix in (".py", ".ipynb", ".md") and p.name != "__init__.py"]
    words = {p: set(re.findall(r"\w+", p.read_text(encoding="utf-8"))) for p in files + [KIT / "README.md"]}
    unused = []
    for name in SUBPACKAGES:
        for module, names in stub_exports(str(PACKAGE / name / "__init__.py")).items():
            own = PACKAGE / name / f"{module}.py"
            unused += [f"{name}.{module}.{n}" for n in names if not any(n in w for p, w in words.items() if p != own)]
    assert unused == []


def notebook_imports(path: Path) -> list[tuple[str, str]]:
    """(module, name) for every `from lab_helpers... import name` in a notebook's code cells."""
    nb = json.loads(path.read_text())
    found = []
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        assert not re.search(r"^\s*import lab_helpers", source, re.M), f"{path.name}: import names, not the package"
        for m in re.finditer(r"from (lab_helpers[\w.]*) import (?:\(([^)]*)\)|([^\n#]*))", source):
            names = (m.group(2) or m.group(3)).replace("\n", " ").split(",")
            found += [(m.group(1), n.split(" as ")[0].strip()) for n in names if n.strip()]
    return found


LESSONS = sorted(KIT.glob("solutions/*.ipynb")) + sorted(KIT.glob("labs/*.ipynb")) + sorted(KIT.glob("dashboards/*.ipynb"))


@pytest.mark.parametrize("path", LESSONS, ids=[f"{p.parent.name}/{p.name}" for p in LESSONS])
def test_lessons_import_each_name_from_the_subpackage_that_holds_it(path):
    imports = notebook_imports(path)
    assert imports, f"{path.name} imports nothing from lab_helpers"
    for module, name in imports:
        if module == "lab_helpers":
            assert name in TOP_LEVEL_NAMES, f"{path.name}: import {name} from its subpackage, not from lab_helpers"
            continue
        parts = module.split(".")
        assert len(parts) == 2 and parts[1] in SUBPACKAGES, f"{path.name}: {module} is a module inside a subpackage"
        assert name in importlib.import_module(module).__all__, f"{path.name}: {module} does not export {name}"


def test_readme_explains_the_layout_in_the_layer_order():
    readme = (KIT / "README.md").read_text()
    section = readme.split("## How the code is laid out", 1)
    assert len(section) == 2, "README.md needs a 'How the code is laid out' section"
    text = section[1].split("\n## ", 1)[0]
    positions = [text.find(f"`{name}/`") for name in SUBPACKAGES]
    assert -1 not in positions, [n for n, p in zip(SUBPACKAGES, positions) if p == -1]
    assert positions == sorted(positions), "list the subpackages in their layer order"


@pytest.mark.parametrize("name", SUBPACKAGES)
def test_importing_a_subpackage_does_no_work(name):
    """Names load on first use: importing a subpackage pulls in no heavy library (a lab that needs none never waits)."""
    import subprocess
    import sys

    code = (f"import sys, lab_helpers.{name}; "
            "print(sorted({'torch', 'sklearn', 'matplotlib', 'ipywidgets', 'pandas', 'fastapi'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/")
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
