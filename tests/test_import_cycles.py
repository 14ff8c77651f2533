"""No import cycles in binaudit/ and training/, and the GUI's sub-packages in one direction.

A cycle is a group of modules that import each other, directly or through others (grimp's import graph,
TYPE_CHECKING imports included: they tie the code together just the same). Cycles make a module
impossible to read, test or move without the others; the GUI's parts (binaudit.gui.*) must also not
import each other in a circle, so the package tree says which part is built on which.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable

import grimp

ROOTS = ("binaudit", "training")

# A group of modules found in a cycle would be tolerated while it lies inside one of these sets (with the
# reason beside it); a set found in no cycle any more is reported as a warning: delete it.
KNOWN_CYCLES: list[frozenset[str]] = []  # none left; a new cycle is untied, not listed


def strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """The groups of two or more nodes that reach each other (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    groups: list[set[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, targets = work[-1]
            target = next(targets, None)
            if target is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.add(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        groups.append(group)
            elif target not in index:
                index[target] = low[target] = len(index)
                stack.append(target)
                on_stack.add(target)
                work.append((target, iter(sorted(graph.get(target, ())))))
            elif target in on_stack:
                low[node] = min(low[node], index[target])
    return groups


def module_graph() -> dict[str, set[str]]:
    """Every module of binaudit and training -> the modules of both that it imports."""
    imports = grimp.build_graph(*ROOTS, cache_dir=None)
    ours = {m for m in imports.modules if m.split(".")[0] in ROOTS}
    return {m: {t for t in imports.find_modules_directly_imported_by(m) if t in ours and t != m} for m in ours}


def parts_graph(graph: dict[str, set[str]], package: str) -> dict[str, set[str]]:
    """The sub-packages (and modules) directly under `package` -> those of them they import."""
    def part(module: str) -> str | None:
        rest = module[len(package) + 1:] if module.startswith(package + ".") else ""
        return rest.split(".")[0] if rest else None

    parts: dict[str, set[str]] = {}
    for module, targets in graph.items():
        source = part(module)
        if source is None:
            continue
        parts.setdefault(source, set()).update(p for p in map(part, targets) if p is not None and p != source)
    return parts


def describe(groups: Iterable[set[str]]) -> str:
    return "\n".join(" <-> ".join(sorted(g)) for g in groups)


def test_strongly_connected_finds_cycles_and_only_cycles() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e", "d"}, "f": {"g"}, "g": {"f"}}
    assert sorted(sorted(g) for g in strongly_connected(graph)) == [["a", "b", "c"], ["f", "g"]]
    assert strongly_connected({"x": {"y"}, "y": set()}) == []


def test_no_import_cycles_in_binaudit_and_training() -> None:
    groups = strongly_connected(module_graph())
    new = [g for g in groups if not any(g <= known for known in KNOWN_CYCLES)]
    assert not new, f"modules that import each other (untie them):\n{describe(new)}"
    gone = [known for known in KNOWN_CYCLES if not any(g & known for g in groups)]
    if gone:
        warnings.warn(f"KNOWN_CYCLES lists cycles that are gone, delete them:\n{describe(gone)}", stacklevel=1)


def test_gui_parts_do_not_import_each_other_in_a_circle() -> None:
    graph = module_graph()
    parts = parts_graph(graph, "binaudit.gui")
    assert {"shell", "browse", "review", "charts", "training", "data", "common"} <= set(parts)
    assert not strongly_connected(parts), describe(strongly_connected(parts))
    assert not any("shell" in targets for targets in parts.values()), "only the shell composes; nothing imports it"
    assert parts["common"] == set(), "common serves every part and uses none"
