"""The package's rooms (its sub-packages) import each other in one direction only, and stay small.

`docs/architecture.md` draws the order; this test reads every `import` of keras_ssd, the
ones inside functions too, so a lazy import cannot hide a loop.
"""

import ast
import pathlib

import keras_ssd

PACKAGE = pathlib.Path(keras_ssd.__file__).parent
MAX_MODULE_LINES = 500


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        yield path, ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported_modules(path, module):
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                yield ".".join(base + ([node.module] if node.module else []))
            elif node.module:
                yield node.module


def _room(module):
    """`keras_ssd.training.trainer` -> `training`; a top-level module is its own room."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def room_imports():
    """{room: {room it imports: [(module, imported module), ...]}} between different rooms."""
    edges = {}
    for path, module in _modules():
        for imported in _imported_modules(path, module):
            if not imported.startswith("keras_ssd.") or module.count(".") == 0:
                continue  # keras_ssd/__init__.py is the public facade over every room
            source, target = _room(module), _room(imported)
            if source != target:
                edges.setdefault(source, {}).setdefault(target, []).append((module, imported))
    return edges


def _cycle(edges):
    """One cycle of rooms as a list, or None."""
    done, path = set(), []

    def visit(room):
        if room in path:
            return path[path.index(room):] + [room]
        if room in done:
            return None
        path.append(room)
        for target in sorted(edges.get(room, {})):
            found = visit(target)
            if found:
                return found
        path.pop()
        done.add(room)
        return None

    for room in sorted(edges):
        found = visit(room)
        if found:
            return found
    return None


def test_no_two_rooms_import_each_other():
    edges = room_imports()
    cycle = _cycle(edges)
    where = [] if cycle is None else [edges[a][b][0] for a, b in zip(cycle, cycle[1:])]
    assert cycle is None, f"rooms import in a loop {' -> '.join(cycle)}: {where}"


def test_the_cycle_finder_sees_a_loop_through_three_rooms():
    assert _cycle({"a": {"b": []}, "b": {"c": []}, "c": {"a": []}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b": []}, "b": {"c": []}}) is None


def test_losses_take_numbers_and_export_does_not_know_models():
    edges = room_imports()
    assert "data" not in edges.get("losses", {}), edges["losses"]["data"]
    assert "models" not in edges.get("export", {}), edges["export"]["models"]
    assert set(edges.get("visualization", {})) <= {"utils"}, edges["visualization"]



def test_no_module_is_over_500_lines():
    sizes = {str(path.relative_to(PACKAGE)): len(path.read_text().splitlines()) for path, _ in _modules()}
    assert {name: size for name, size in sizes.items() if size > MAX_MODULE_LINES} == {}
