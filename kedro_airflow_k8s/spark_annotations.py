"""Which node functions take or return a pyspark DataFrame, read from their annotations.

pyspark is never imported: annotations are judged by the dotted paths they name.
"""

from __future__ import annotations

import ast
import functools
import inspect
import os
import sys
import tokenize
import typing
from collections.abc import Iterator
from typing import Any

_MAX_ANNOTATION_DEPTH = 25


def is_spark_frame_path(path: str) -> bool:
    """pyspark DataFrames (classic, Connect, pandas-on-Spark) by dotted path; never pandas."""
    module, _, name = path.rpartition(".")
    if module != "pyspark" and not module.startswith("pyspark."):
        return False
    return name == "DataFrame" or (name == "Series" and module.startswith("pyspark.pandas"))


class AnnotationReader:
    """Finds pyspark DataFrames in function annotations, caching per function and module."""

    def __init__(self) -> None:
        self._by_function: dict[int, tuple[Any, str | None]] = {}
        self._imports_by_module: dict[str, dict[str, str]] = {}

    def reason(self, func: Any) -> str | None:
        cached = self._by_function.get(id(func))
        # The stored function keeps its id from being reused while the cache lives.
        if cached is not None and cached[0] is func:
            return cached[1]
        result = self._find(func)
        self._by_function[id(func)] = (func, result)
        return result

    def _find(self, func: Any) -> str | None:
        seen: list[dict] = []
        # The innermost function first: its globals are the ones its string annotations name.
        for layer in reversed(_unwrapped_layers(func)):
            function = _python_function(layer)
            annotations = _annotations_of(function) if function else {}
            # functools.wraps shares the wrapped function's annotations dict: judge it once.
            if not annotations or any(annotations is done for done in seen):
                continue
            seen.append(annotations)
            resolver = _Resolver(function.__globals__, self._imports(function.__module__))
            for parameter, annotation in annotations.items():
                found = resolver.spark_frame_in(annotation)
                if found:
                    where = "output is" if parameter == "return" else f"input '{parameter}' is"
                    return f"annotation: {where} {found}"
        return None

    def _imports(self, module_name: str | None) -> dict[str, str]:
        if not module_name:
            return {}
        if module_name not in self._imports_by_module:
            self._imports_by_module[module_name] = _imported_names(sys.modules.get(module_name))
        return self._imports_by_module[module_name]


def _unwrapped_layers(func: Any) -> list[Any]:
    """``func``, then what it wraps: partials' functions and decorators' ``__wrapped__``."""
    layers: list[Any] = []
    current = func
    while current is not None and len(layers) < _MAX_ANNOTATION_DEPTH:
        layers.append(current)
        if isinstance(current, functools.partial):
            current = current.func
        else:
            current = getattr(current, "__wrapped__", None)
    return layers


def _python_function(layer: Any) -> Any:
    """The Python function whose signature ``layer`` has (a callable object's ``__call__``)."""
    if inspect.ismethod(layer):
        layer = layer.__func__
    if inspect.isfunction(layer):
        return layer
    call = type(layer).__call__ if callable(layer) else None
    return call if inspect.isfunction(call) else None


def _annotations_of(function: Any) -> dict:
    try:
        return inspect.get_annotations(function)
    except Exception:
        # Python 3.14 evaluates annotations on access; names imported only for type
        # checking then fail, but their text still tells us the type.
        try:
            import annotationlib  # type: ignore[import-not-found]

            return annotationlib.get_annotations(function, format=annotationlib.Format.STRING)
        except Exception:
            return {}


def _imported_names(module: Any) -> dict[str, str]:
    """Name -> dotted path for the module's imports, read from its source without running it."""
    path = getattr(module, "__file__", None)
    try:
        stamp = os.stat(path).st_mtime_ns
    except (TypeError, OSError):
        return {}
    return dict(_imports_in_file(path, stamp))


@functools.lru_cache(maxsize=512)
def _imports_in_file(path: str, stamp: int) -> dict[str, str]:
    """Module-level imports (also under ``if TYPE_CHECKING:`` or ``try:``) win over imports
    inside functions; within each, the later import of a name wins.

    Cached by path and modification time: a project's modules are parsed once per process.
    """
    try:
        with tokenize.open(path) as source:
            tree = ast.parse(source.read())
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return {}
    nested: dict[str, str] = {}
    _collect_imports(ast.walk(tree), nested)
    top: dict[str, str] = {}
    _collect_imports(_module_level_statements(tree.body), top)
    return {**nested, **top}


def _module_level_statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    for statement in body:
        yield statement
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        for field in ("body", "orelse", "finalbody", "handlers"):
            yield from _module_level_statements(getattr(statement, field, []) or [])


def _collect_imports(statements: typing.Iterable[ast.AST], names: dict[str, str]) -> None:
    for statement in statements:
        if isinstance(statement, ast.Import):
            for alias in statement.names:
                if alias.asname:
                    names[alias.asname] = alias.name
                else:
                    top = alias.name.partition(".")[0]
                    names[top] = top
        elif isinstance(statement, ast.ImportFrom) and statement.module and not statement.level:
            for alias in statement.names:
                names[alias.asname or alias.name] = f"{statement.module}.{alias.name}"


class _Resolver:
    """Judges one annotation against a function's globals and its module's imports."""

    def __init__(self, namespace: dict[str, Any], imports: dict[str, str]) -> None:
        self._namespace = namespace
        self._imports = imports

    def spark_frame_in(self, annotation: Any, depth: int = 0) -> str | None:
        """Dotted path of the first pyspark DataFrame inside ``annotation``, if any."""
        if depth > _MAX_ANNOTATION_DEPTH or annotation is None:
            return None
        if isinstance(annotation, str):
            return self._in_text(annotation, depth)
        if isinstance(annotation, typing.ForwardRef):
            return self._in_text(annotation.__forward_arg__, depth)
        for inner in _inner_types(annotation):
            found = self.spark_frame_in(inner, depth + 1)
            if found:
                return found
        if typing.get_origin(annotation) is None and isinstance(annotation, type):
            for klass in annotation.__mro__:
                path = f"{klass.__module__}.{klass.__qualname__}"
                if is_spark_frame_path(path):
                    return path
        return None

    def _in_text(self, text: str, depth: int) -> str | None:
        try:
            expression = ast.parse(text.strip(), mode="eval").body
        except SyntaxError:
            return text if is_spark_frame_path(text.strip()) else None
        for dotted in _dotted_names(expression):
            found = self._judge_dotted(dotted, depth)
            if found:
                return found
        return None

    def _judge_dotted(self, dotted: str, depth: int) -> str | None:
        head, _, rest = dotted.partition(".")
        if head in self._namespace:
            found = self._judge_object(self._namespace[head], rest, depth)
            if found:
                return found
        if head in self._imports:
            imported = self._imports[head] + (f".{rest}" if rest else "")
            if is_spark_frame_path(imported):
                return imported
        return dotted if is_spark_frame_path(dotted) else None

    def _judge_object(self, value: Any, rest: str, depth: int) -> str | None:
        for attribute in rest.split(".") if rest else ():
            if inspect.ismodule(value) and not hasattr(value, attribute):
                # A module we cannot look inside (lazy, or the attribute needs an
                # import): its name plus the rest is still a dotted path.
                path = f"{value.__name__}.{rest}"
                return path if is_spark_frame_path(path) else None
            try:
                value = getattr(value, attribute)
            except Exception:
                return None
        if inspect.ismodule(value):
            return None
        return self.spark_frame_in(value, depth + 1)


def _inner_types(annotation: Any) -> tuple[Any, ...]:
    """Arguments of generics and unions, and the value of ``type X = ...`` aliases."""
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return ()
    inner = tuple(typing.get_args(annotation))
    if origin is typing.Annotated:
        inner = inner[:1]
    if type(annotation).__name__ == "TypeAliasType":
        inner += (annotation.__value__,)
    if isinstance(annotation, typing.TypeVar) and annotation.__bound__ is not None:
        inner += (annotation.__bound__,)
    return inner


def _dotted_names(expression: ast.AST, depth: int = 0) -> Iterator[str]:
    """Every name or dotted attribute chain in an annotation expression, in source order."""
    if depth > _MAX_ANNOTATION_DEPTH:
        return
    if isinstance(expression, ast.Name):
        yield expression.id
    elif isinstance(expression, ast.Attribute):
        chain = _attribute_chain(expression)
        if chain:
            yield chain
        else:
            yield from _dotted_names(expression.value, depth + 1)
    elif isinstance(expression, ast.Constant) and isinstance(expression.value, str):
        try:
            inner = ast.parse(expression.value.strip(), mode="eval").body
        except SyntaxError:
            return
        yield from _dotted_names(inner, depth + 1)
    else:
        for child in ast.iter_child_nodes(expression):
            yield from _dotted_names(child, depth + 1)


def _attribute_chain(expression: ast.AST) -> str | None:
    parts: list[str] = []
    while isinstance(expression, ast.Attribute):
        parts.append(expression.attr)
        expression = expression.value
    if not isinstance(expression, ast.Name):
        return None
    parts.append(expression.id)
    return ".".join(reversed(parts))
