"""Every file of binaudit/ and training/ reads in one sitting: at most 400 lines, no function over 60 lines.

A function is measured from its first decorator to its last line, nested functions included; a long one
is several steps that want names of their own. Declarative tables belong in module-level data, which
is not a function and is measured only as part of its file.
"""

from __future__ import annotations

import ast
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("binaudit", "training")
MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 60

# Exceptions, if one is ever needed, are listed here with the reason ("path" or "path::qualified name");
# an entry that fits again is reported as a warning: delete it.
ALLOWED: set[str] = set()  # nothing over the limits any more; keep it empty


def functions(tree: ast.AST, prefix: str = "") -> list[tuple[str, int]]:
    """(qualified name, lines) of every function and method in a module, nested ones too."""
    found = []
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            name = f"{prefix}{node.name}"
            if not isinstance(node, ast.ClassDef):
                start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                found.append((name, int(node.end_lineno or node.lineno) - start + 1))
            found += functions(node, name + ".")
        else:
            found += functions(node, prefix)
    return found


def offenders() -> dict[str, str]:
    """What is over a limit: {file or file::function: how long it is}."""
    over: dict[str, str] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            text = path.read_text(encoding="utf-8")
            lines = len(text.splitlines())
            if lines > MAX_FILE_LINES:
                over[rel] = f"{lines} lines"
            for name, length in functions(ast.parse(text)):
                if length > MAX_FUNCTION_LINES:
                    over[f"{rel}::{name}"] = f"{length} lines"
    return over


def test_functions_are_measured_with_decorators_and_nesting() -> None:
    tree = ast.parse("@dec\ndef f():\n    def g():\n        pass\n    return g\n\nclass C:\n    def m(self):\n"
                     "        return 1\n")
    assert functions(tree) == [("f", 5), ("f.g", 2), ("C.m", 2)]


def test_files_and_functions_fit_in_one_sitting() -> None:
    over = offenders()
    new = {name: size for name, size in over.items() if name not in ALLOWED}
    assert not new, "over the limits (split into named steps or modules):\n" + "\n".join(
        f"{name}: {size}" for name, size in sorted(new.items()))
    fits = sorted(name for name in ALLOWED if name not in over)
    if fits:
        warnings.warn("ALLOWED lists what fits now, delete it: " + ", ".join(fits), stacklevel=1)
