"""Whether a catalog ``type`` names a dataset class, read from source before importing any.

Importing a dataset module to look for a class is slow: ``kedro_datasets.pandas``
alone imports pandas, SQLAlchemy and the BigQuery client. A module that declares
the class in its source (a ``class``, an assignment, an import, ``__all__`` or a
``lazy_loader`` table) is taken at its word without being imported; only a type
no source declares is looked up by importing, so a wrong type is still refused.
"""

from __future__ import annotations

import ast
import importlib
import importlib.machinery
import importlib.util
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The prefixes Kedro tries in front of a catalog `type`, in its order.
PREFIXES = ("kedro.io.", "kedro_datasets.", "")


def dataset_class_exists(dataset_type: str) -> bool:
    """Whether ``dataset_type`` names a class the way Kedro resolves a catalog ``type``.

    A class whose module is there but whose own dependencies are not installed here
    exists: the image that runs it may have them.
    """
    if class_path_from_source(dataset_type) is not None:
        return True
    class_paths = [prefix + dataset_type for prefix in PREFIXES]
    if any(declared_in_source(path) for path in class_paths):
        return True
    return any(found_by_importing(path) for path in class_paths)


def class_path_from_source(dataset_type: str) -> str | None:
    """The class a catalog ``type`` loads, as ``module.Class`` where it is defined (what
    ``DataCatalog.get_type`` says), found by reading source; None when the source cannot
    tell (a module that builds its names at run time): then ask Kedro, which imports."""
    for prefix in PREFIXES:
        module_path, _, name = (prefix + dataset_type).rpartition(".")
        if not module_path or not name:
            continue
        location = locate(module_path)
        if location is ABSENT:
            continue  # Kedro tries the next prefix
        return defining_class(module_path, name, location)
    return None


def declared_in_source(class_path: str) -> bool:
    """Whether the module of ``class_path`` declares its last name, judged without importing
    the module (False when that cannot be told from the source)."""
    module_path, _, name = class_path.rpartition(".")
    if not module_path or not name:
        return False
    module = sys.modules.get(module_path)
    if module is not None:
        return name in vars(module) or name in getattr(module, "__all__", ())
    location = locate(module_path)
    if not isinstance(location, Path):
        return False
    names = module_names(location)
    if names is None or Binding("deleted") in names.bound.get(name, ()):
        return False
    return name in names.bound or name in names.exported


class _Unknown:
    """A module whose source cannot be read: an extension module, or a finder's own."""


ABSENT = None
UNKNOWN = _Unknown()
_MAX_REEXPORTS = 10


def locate(module_path: str) -> Path | _Unknown | None:
    """The source file of ``module_path`` found as the import system would, without
    importing it or its packages; ``ABSENT`` when there is no such module."""
    search: list[str] | None = None
    spec = None
    parts = module_path.split(".")
    for depth in range(1, len(parts) + 1):
        name = ".".join(parts[:depth])
        if depth > 1 and search is None:
            return ABSENT  # the parent is a plain module: it has no submodules
        loaded = sys.modules.get(name)
        try:
            if loaded is not None:
                spec = getattr(loaded, "__spec__", None)
                paths = getattr(loaded, "__path__", None)
            else:
                spec = find_spec(name, search)
                paths = spec.submodule_search_locations if spec is not None else None
        except Exception:  # noqa: BLE001 - a third-party finder failing: let the import judge
            return UNKNOWN
        if spec is None:
            return UNKNOWN if loaded is not None else ABSENT
        search = list(paths) if paths is not None else None
    origin = getattr(spec, "origin", None)
    if not origin or not str(origin).endswith(".py"):
        return UNKNOWN
    return Path(origin)


def find_spec(name: str, search: list[str] | None) -> Any:
    """The spec the import system's finders give ``name`` (its parent's ``search`` path
    given), without importing the parent."""
    if search is None:
        return importlib.util.find_spec(name)
    for finder in sys.meta_path:
        find = getattr(finder, "find_spec", None)
        spec = find(name, search) if find is not None else None
        if spec is not None:
            return spec
    return None


def defining_class(module_path: str, name: str, location: Path | _Unknown) -> str | None:
    """``module.Class`` where ``name`` of ``module_path`` is defined, following re-exports
    (``from .x import Class``, ``lazy_loader`` tables); None when the source cannot tell."""
    for _ in range(_MAX_REEXPORTS):
        loaded = sys.modules.get(module_path)
        if loaded is not None:
            found = vars(loaded).get(name)
            if isinstance(found, type):
                return f"{found.__module__}.{found.__qualname__}"
            return None
        if not isinstance(location, Path):
            return None
        names = module_names(location)
        bindings = names.bound.get(name, []) if names is not None else []
        if len(bindings) != 1:
            return None
        binding = bindings[0]
        if binding.kind == "class":
            return f"{module_path}.{name}"
        if binding.kind == "import":
            module_path = imported_module(module_path, location, binding)
            name = binding.original
        else:
            return None
        location = locate(module_path)
        if location is ABSENT:
            return None
    return None


def imported_module(module_path: str, location: Path, binding: Binding) -> str:
    """The absolute name of the module a ``from ... import`` in ``module_path`` reads."""
    if not binding.level:
        return binding.module
    package = module_path if location.name == "__init__.py" else module_path.rpartition(".")[0]
    for _ in range(binding.level - 1):
        package = package.rpartition(".")[0]
    return ".".join(filter(None, [package, binding.module]))


@dataclass(frozen=True)
class Binding:
    """How a module binds one top-level name."""

    kind: str  # class | import | deleted | other
    module: str = ""
    level: int = 0
    original: str = ""


@dataclass
class ModuleNames:
    """The top-level names of one module's source."""

    bound: dict[str, list[Binding]] = field(default_factory=dict)
    exported: set[str] = field(default_factory=set)


_parsed: dict[tuple[str, int, int], ModuleNames | None] = {}


def module_names(path: Path) -> ModuleNames | None:
    """The names ``path`` binds at its top level (parsed once per file version)."""
    try:
        stat = path.stat()
    except OSError:
        return None
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if key not in _parsed:
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
            _parsed[key] = None
        else:
            _parsed[key] = names_in(tree)
    return _parsed[key]


def names_in(tree: ast.Module) -> ModuleNames:
    """Names a module binds at its top level, those it lists in ``__all__`` and those it
    hands to ``lazy_loader.attach``."""
    names = ModuleNames()

    def bind(name: str, binding: Binding) -> None:
        names.bound.setdefault(name, []).append(binding)

    for statement in top_level(tree.body):
        if isinstance(statement, ast.ClassDef):
            bind(statement.name, Binding("other" if statement.decorator_list else "class"))
        elif isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
            bind(statement.name, Binding("other"))
        elif isinstance(statement, ast.ImportFrom):
            for alias in statement.names:
                if alias.name != "*":
                    binding = Binding("import", statement.module or "", statement.level, alias.name)
                    bind(alias.asname or alias.name, binding)
        elif isinstance(statement, ast.Import):
            for alias in statement.names:
                bind(alias.asname or alias.name.split(".")[0], Binding("other"))
        elif isinstance(statement, ast.Delete):
            # `del Name` after a definition: only importing tells what is left.
            for target in statement.targets:
                for name in target_names(target):
                    bind(name, Binding("deleted"))
        elif isinstance(statement, (ast.Assign, ast.AnnAssign)):
            if isinstance(statement, ast.AnnAssign) and statement.value is None:
                continue  # an annotation alone binds nothing
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            for target in targets:
                for name in target_names(target):
                    bind(name, Binding("other"))
            if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
                names.exported.update(string_list(statement.value))
        if isinstance(statement, (ast.Assign, ast.AnnAssign, ast.Expr)):
            # lazy_loader.attach(__name__, submod_attrs={"x": ["A"]}) is `from .x import A`.
            for name, submodule in lazily_attached(statement.value).items():
                bind(name, Binding("import", submodule, 1, name) if submodule else Binding("other"))
                names.exported.add(name)
    for name, bindings in names.bound.items():
        # `from .x import A` in a try, and A in lazy_loader's table too: one binding.
        names.bound[name] = list(dict.fromkeys(bindings))
    return names


def top_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """The statements that run at import time: ``if``/``try``/``with`` blocks opened, the
    bodies of functions and classes not, nor ``if TYPE_CHECKING:`` (never run)."""
    for statement in body:
        yield statement
        if isinstance(statement, ast.If):
            if not names_type_checking(statement.test):
                yield from top_level(statement.body)
            yield from top_level(statement.orelse)
        elif isinstance(statement, ast.With):
            yield from top_level(statement.body)
        elif isinstance(statement, ast.Try) or type(statement).__name__ == "TryStar":
            for block in (statement.body, statement.orelse, statement.finalbody):
                yield from top_level(block)
            for handler in statement.handlers:
                yield from top_level(handler.body)


def names_type_checking(test: ast.expr) -> bool:
    """``TYPE_CHECKING`` or ``typing.TYPE_CHECKING``: true for type checkers only."""
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def target_names(target: ast.expr) -> set[str]:
    if isinstance(target, ast.Name):
        return {target.id}
    if isinstance(target, (ast.Tuple, ast.List)):
        return {name for element in target.elts for name in target_names(element)}
    return set()


def lazily_attached(value: ast.expr | None) -> dict[str, str | None]:
    """Attribute name -> the submodule it comes from, of a ``lazy_loader.attach(__name__,
    submodules, submod_attrs)`` call (None for a submodule itself)."""
    if not isinstance(value, ast.Call):
        return {}
    function = value.func
    called = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")
    if called != "attach":
        return {}
    arguments = {keyword.arg: keyword.value for keyword in value.keywords}
    positional = dict(zip(("package_name", "submodules", "submod_attrs"), value.args, strict=False))
    names: dict[str, str | None] = {}
    submodules = arguments.get("submodules", positional.get("submodules"))
    for submodule in string_list(submodules):
        names[submodule] = None
    table = arguments.get("submod_attrs", positional.get("submod_attrs"))
    if isinstance(table, ast.Dict):
        for key, attributes in zip(table.keys, table.values, strict=False):
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                for attribute in string_list(attributes):
                    names[attribute] = key.value
    return names


def string_list(value: ast.expr | None) -> list[str]:
    if not isinstance(value, (ast.List, ast.Tuple, ast.Set)):
        return []
    return [
        element.value
        for element in value.elts
        if isinstance(element, ast.Constant) and isinstance(element.value, str)
    ]


def found_by_importing(class_path: str) -> bool:
    """Whether importing the module of ``class_path`` shows the class (or fails on one of
    the module's own dependencies, which the image that runs it may have)."""
    module_path, _, class_name = class_path.rpartition(".")
    if not module_path or not class_name:
        return False
    try:
        if importlib.util.find_spec(module_path) is None:
            return False
        module = importlib.import_module(module_path)
    except ImportError as error:
        # The module is there but one of its own dependencies is not.
        return bool(error.name) and not module_path.startswith(error.name)
    except Exception:  # noqa: BLE001 - a module that fails to import is not ours to judge
        return True
    if class_name in getattr(module, "__all__", ()):
        return True
    try:
        return hasattr(module, class_name)
    except ImportError:
        return True
