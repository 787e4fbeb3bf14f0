"""pyarrow in a command-line process, told that pandas is not there (it is never needed).

pyarrow looks for pandas twice: its Python side the first time it is handed data that
could be a DataFrame or a Series (``pa.table``, ``pa.array``), and its C++ converter the
first time it infers a type from Python values. Looking means importing pandas: 0.3 to
0.5 s of an ``export`` of the demo event, a tenth of it. The command line never gives
pyarrow a pandas object, so :func:`arrow_without_pandas` has both looks fail: while
pyarrow runs them once, ``import pandas`` is refused. pyarrow remembers the answer and
converts the same data the same way (the archive's bytes do not change; see
``tests/test_nopandas.py``).

pandas itself stays importable. DuckDB's ``.df()`` imports it on its own, and pyarrow's
``to_pandas()`` imports it again when asked, so a code path that does want pandas still
gets it. Like :mod:`ocq_batch.malloc`, this is called by the console entry point only,
never on import: a notebook's pyarrow keeps its pandas integration. pyarrow is not
imported by the call either (``--help`` stays light): a meta path finder waits for
pyarrow's first import and runs the check right after it.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any


def arrow_without_pandas() -> bool:
    """Arrange for pyarrow to take pandas as absent; False when that can no longer be done
    (pandas or pyarrow already imported)."""
    if "pandas" in sys.modules or "pyarrow" in sys.modules:
        return False
    if not any(isinstance(f, _PyarrowFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _PyarrowFinder())
    return True


def _skip_pandas_check(pyarrow: ModuleType) -> None:
    """Run pyarrow's two looks for pandas once, while ``import pandas`` fails."""
    shim = getattr(getattr(pyarrow, "lib", None), "_pandas_api", None)
    if shim is None or "pandas" in sys.modules:  # another pyarrow, or pandas came first
        return
    refuse = _RefusePandas()
    sys.meta_path.insert(0, refuse)
    try:
        shim.have_pandas  # noqa: B018  (the property runs and remembers the check)
        pyarrow.array([0])  # and the C++ converter's own look, made when it infers a type
    except Exception:  # a pyarrow that looks otherwise keeps its own ways
        pass
    finally:
        sys.meta_path.remove(refuse)


class _RefusePandas(importlib.abc.MetaPathFinder):
    """``import pandas`` fails while this finder is first on the path. (Putting None in
    ``sys.modules`` would not do: pyarrow's compiled import takes the None as the module.)"""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname == "pandas" or fullname.startswith("pandas."):
            raise ImportError(f"{fullname} is not imported by the command line", name=fullname)
        return None


class _PyarrowFinder(importlib.abc.MetaPathFinder):
    """Finds nothing itself: hands pyarrow's spec back with a loader that runs the check."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "pyarrow":
            return None
        sys.meta_path.remove(self)  # once: the other finders do the finding
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        spec.loader = _Loader(spec.loader)
        return spec


class _Loader(importlib.abc.Loader):
    def __init__(self, loader: Any) -> None:
        self.loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        created: ModuleType | None = self.loader.create_module(spec)
        return created

    def exec_module(self, module: ModuleType) -> None:
        module.__loader__ = self.loader  # the module keeps its own loader (resources, reload)
        if module.__spec__ is not None:
            module.__spec__.loader = self.loader
        self.loader.exec_module(module)
        _skip_pandas_check(module)
