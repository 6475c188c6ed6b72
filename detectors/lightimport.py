"""Presidio's classes without Presidio's whole package: a scan that needs no NER never imports spaCy.

`import presidio_analyzer` runs its package `__init__`, which imports the analyzer engine,
every NLP engine (spaCy, stanza, transformers wrappers) and ~80 predefined recognizers:
about a second and ~90 MB before the first event, although a scan of machine logs uses a
few pattern-recognizer base classes and five recognizers. Here the packages under
`presidio_analyzer` are created without running their `__init__`; a name one of them
exports is imported from the submodule its `__init__` takes it from (read from that file,
not hard-coded, so a Presidio release that moves a class still resolves), a submodule is
imported as usual, and any other name runs the real `__init__` once. Modules are Presidio's
own, unchanged: only the order and the moment of their import differ. spaCy is imported
when a text first needs NER (or when anything asks for a name the package does not say
where it comes from).

`install()` runs from `detectors/__init__.py`, before any detector imports Presidio; it
does nothing where Presidio is already imported, and `PHISCAN_EAGER_PRESIDIO=1` turns it off.
"""

from __future__ import annotations

import ast
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import threading
from types import ModuleType

ROOT = "presidio_analyzer"
_lock = threading.RLock()


def install() -> None:
    """Make packages under `presidio_analyzer` light from now on (no-op when already imported or disabled)."""
    if os.environ.get("PHISCAN_EAGER_PRESIDIO") or ROOT in sys.modules:
        return
    if not any(isinstance(f, _LightFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _LightFinder())


def exports(init_path: str, package: str) -> dict[str, tuple[str, str]] | None:
    """name -> (module, name in it) for each `from X import name` at the top level of a package's __init__."""
    try:
        with open(init_path, "rb") as fh:
            tree = ast.parse(fh.read(), init_path)
    except (OSError, SyntaxError, ValueError):
        return None
    out: dict[str, tuple[str, str]] = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            for alias in node.names:
                if alias.name != "*":
                    out[alias.asname or alias.name] = (module, alias.name)
    return out


class _LightFinder(importlib.abc.MetaPathFinder):
    """Finds Presidio's packages as usual, and hands them a loader that skips their `__init__`."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != ROOT and not fullname.startswith(ROOT + "."):
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or not spec.submodule_search_locations or not spec.origin or spec.loader is None:
            return spec  # a plain module (or not found): imported as usual
        names = exports(spec.origin, fullname)
        if names is None:
            return spec
        spec.loader = _LightLoader(spec.loader, names)
        return spec


class _LightLoader(importlib.abc.Loader):
    def __init__(self, real: importlib.abc.Loader, names: dict[str, tuple[str, str]]):
        self.real = real
        self.names = names

    def create_module(self, spec):
        return None  # the default module, with __path__ and __spec__ set from the spec

    def exec_module(self, module: ModuleType) -> None:
        real, names, name = self.real, self.names, module.__name__
        state = {"full": False}

        def full() -> None:
            with _lock:
                if not state["full"]:
                    state["full"] = True
                    real.exec_module(module)  # the package's own __init__, into the same module

        def __getattr__(attr: str):
            if attr.startswith("__"):
                raise AttributeError(f"module {name!r} has no attribute {attr!r}")
            target = names.get(attr)
            if target is not None and not state["full"]:
                value = getattr(importlib.import_module(target[0]), target[1])
                setattr(module, attr, value)
                return value
            if importlib.util.find_spec(f"{name}.{attr}") is not None:
                return importlib.import_module(f"{name}.{attr}")  # a submodule: `from pkg import sub`
            full()
            try:
                return module.__dict__[attr]
            except KeyError:
                raise AttributeError(f"module {name!r} has no attribute {attr!r}") from None

        module.__getattr__ = __getattr__  # PEP 562: consulted only for names not (yet) in the module
