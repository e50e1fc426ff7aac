"""Subpackages export their names lazily: a name's module loads on first use, so importing a subpackage does no work.

The same pattern as scientific Python's `lazy_loader` (scikit-image, NetworkX): each subpackage's `__init__.pyi`
lists, module by module, the names it exports (the one list: `attach_stub` reads it, and so do editors and type
checkers); `from lab_helpers.attacks import invert_white_box` then imports
`lab_helpers.attacks.mi_face` and nothing else, so a lab that needs no PyTorch never loads it.

The first name used inside a Jupyter kernel also puts tqdm's notebook progress bars in a form a saved notebook can
show again: a widget while a step runs, plain text once it ends (`use_plain_when_done_bars`).
"""
from __future__ import annotations

import ast
import importlib
import sys
from pathlib import Path
from typing import Callable


def attach(package: str, exports: dict[str, list[str]]) -> tuple[Callable, Callable, list[str]]:
    """(__getattr__, __dir__, __all__) for a subpackage that exports `exports` = {module: [names]} lazily."""
    home = {name: module for module, names in exports.items() for name in names}
    if len(home) != sum(len(names) for names in exports.values()):
        raise ValueError(f"{package}: a name is exported by two modules")

    def __getattr__(name: str):
        if name in home:
            if not _KERNEL_CHECKED:
                use_plain_when_done_bars()
            return getattr(importlib.import_module(f"{package}.{home[name]}"), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(home)

    return __getattr__, __dir__, sorted(home)


def stub_exports(init_file: str) -> dict[str, list[str]]:
    """{module: [names]} from a subpackage's `__init__.pyi`: its `from .module import name as name` lines."""
    exports: dict[str, list[str]] = {}
    for node in ast.parse(Path(init_file).with_suffix(".pyi").read_text(encoding="utf-8")).body:
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
            exports.setdefault(node.module, []).extend(alias.asname or alias.name for alias in node.names)
    return exports


def attach_stub(package: str, init_file: str) -> tuple[Callable, Callable, list[str]]:
    """`attach` with the exports read from the subpackage's `__init__.pyi` (as lazy_loader's `attach_stub`): the one
    list of what a subpackage exports, which editors and type checkers read too."""
    return attach(package, stub_exports(init_file))


# ---------------------------------------------------------------- progress bars a saved notebook can show again

_KERNEL_CHECKED = False


def in_jupyter_kernel() -> bool:
    """Is this process a Jupyter kernel (a notebook, Voila), where tqdm.auto shows widget progress bars?"""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None and hasattr(ipython, "get_ipython") else None
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def plain_when_done_bar():
    """tqdm's notebook progress bar, shown as a widget while a step runs and replaced by one line of plain text when
    it ends (nothing at all for a bar with leave=False).

    tqdm's own widget bar closes its widget when it ends (leave=False), or keeps it alive; either way the saved
    notebook holds an output that refers to a widget, and a notebook reopened later has no such widget: JupyterLab
    shows "Error displaying widget: model not found" in its place. Plain text reopens as it was.
    """
    from IPython.display import display
    from tqdm.notebook import tqdm_notebook

    class PlainWhenDoneBar(tqdm_notebook):
        """A notebook progress bar that leaves plain text, never a widget, in the saved notebook."""

        def __init__(self, *args, **kwargs):
            self._handle = None
            kwargs["display"] = False  # shown below, with a display id, so that it can be replaced
            super().__init__(*args, **kwargs)
            if not self.disable and getattr(self, "container", None) is not None and self.delay <= 0:
                self._handle = display(self.container, display_id=True)
                self.displayed = True

        def display(self, *args, check_delay: bool = True, **kwargs):
            if check_delay and self.delay > 0 and not self.displayed and not self.disable:
                self._handle = display(self.container, display_id=True)
                self.displayed = True
            return super().display(*args, check_delay=False, **kwargs)

        def close(self):
            if self.disable:
                return super().close()
            super().close()
            if self._handle is None:
                return
            stopped = bool(self.total) and self.n < self.total
            text = ""
            if self.leave or stopped:
                text = self.format_meter(**self.format_dict) + (" (stopped)" if stopped else "")
            self._handle.update({"text/plain": text}, raw=True)
            for widget in (*getattr(self.container, "children", ()), self.container):
                try:
                    widget.close()  # its output now shows the text: the widget is no longer needed
                except AttributeError:
                    pass

    return PlainWhenDoneBar


def use_plain_when_done_bars() -> bool:
    """In a Jupyter kernel, make tqdm.auto's bar (what every long step of the kit shows) the plain-when-done bar,
    once; anywhere else leave tqdm alone. Returns True when the notebook bar is in place."""
    global _KERNEL_CHECKED
    _KERNEL_CHECKED = True
    if not in_jupyter_kernel():
        return False
    try:
        import tqdm.auto
        import tqdm.autonotebook
        from tqdm.notebook import IProgress, tqdm_notebook
    except ImportError:
        return False
    if IProgress is None or not issubclass(tqdm.auto.tqdm, tqdm_notebook):
        return False  # no ipywidgets: tqdm shows text bars already
    bar = getattr(tqdm.auto.tqdm, "_plain_when_done", None) or plain_when_done_bar()
    bar._plain_when_done = bar
    tqdm.auto.tqdm = tqdm.autonotebook.tqdm = bar
    return True
