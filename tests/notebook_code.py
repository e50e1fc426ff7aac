"""The guided-path tests' way into a notebook: its own functions and constants, run in the test's namespace, so the
words a test checks come from the code the notebook runs (not a copy of it)."""
from __future__ import annotations

import ast
from pathlib import Path

import nbformat


def assigned(node: ast.Assign) -> list[str]:
    """The names an assignment binds (`a = ...`, `a, b = ...`)."""
    return [n.id for target in node.targets for n in ast.walk(target) if isinstance(n, ast.Name)]


def notebook_definitions(notebook: Path, names: tuple[str, ...], namespace: dict, imports: bool = False) -> dict:
    """Define the notebook's top-level functions and assignments called `names` in `namespace` (no cell is run whole;
    with imports=True its import lines too), and check that it still defines every one of them."""
    for cell in nbformat.read(notebook, as_version=4).cells:
        if cell.cell_type != "code":
            continue
        wanted = [node for node in ast.parse(cell.source).body
                  if (isinstance(node, ast.FunctionDef) and node.name in names)
                  or (isinstance(node, ast.Assign) and set(assigned(node)) & set(names))
                  or (imports and isinstance(node, (ast.Import, ast.ImportFrom)))]
        exec(compile(ast.Module(wanted, type_ignores=[]), str(notebook), "exec"), namespace)
    missing = [name for name in names if name not in namespace]
    assert not missing, f"{notebook.name} no longer defines {missing}"
    return namespace


EXTENSION_HEADING = "## Engineer's extension"


def path_cells(notebook: Path) -> list:
    """The cells of a notebook's guided path: after the title cell, before the "Engineer's extension" heading."""
    cells = nbformat.read(notebook, as_version=4).cells
    end = next(i for i, c in enumerate(cells) if c.cell_type == "markdown" and c.source.startswith(EXTENSION_HEADING))
    return cells[1:end]
