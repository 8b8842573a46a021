"""The import graph matches the picture in the README: data flows one way, no cycles.

Every import of a project module counts — at the top, inside a function, or only for type
checking — because each is a dependency a reader has to know about.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("settings", "corpus", "embeddings", "bot", "emulator", "dari", "bench", "eval")

# What each package may import (besides itself). settings is the ground floor, dari (CLI,
# service, sandbox) the roof; the emulator is the tests' Discord: it knows the settings and
# the bot's own switch of API base, nothing of what the bot does.
ALLOWED: dict[str, set[str]] = {
    "settings": set(),
    "corpus": {"settings"},
    "embeddings": {"settings", "corpus"},
    "bot": {"settings", "corpus", "embeddings"},
    "emulator": {"settings", "bot"},
    "dari": {"settings", "corpus", "embeddings", "bot", "emulator"},
    "bench": {"settings", "corpus", "embeddings", "bot", "emulator", "dari"},
    "eval": {"settings", "corpus", "embeddings", "bot", "dari"},
}
# The read path (answering) never reaches the write path (building an index).
READ_PATH = ("embeddings.retriever", "embeddings.answer", "bot.format")
WRITE_PATH = ("embeddings.refresh", "corpus.ingest", "embeddings.passages")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            found[_module_name(path)] = path
    return found


def _type_only(tree: ast.Module) -> set[int]:
    """ids of the import nodes inside ``if TYPE_CHECKING:`` blocks."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            found.update(id(inner) for stmt in node.body for inner in ast.walk(stmt))
    return found


def _imports(path: Path, name: str, known: set[str], *, runtime_only: bool = False) -> set[str]:
    """Project modules that the module at ``path`` imports, anywhere in its body (with
    ``runtime_only``, leaving out imports made only for the type checker)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    skip = _type_only(tree) if runtime_only else set()
    out: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        for target in targets:
            # The longest known prefix: "corpus.parse.parse_file" is the module corpus.parse.
            parts = target.split(".")
            for end in range(len(parts), 0, -1):
                candidate = ".".join(parts[:end])
                if candidate in known:
                    if candidate != name:
                        out.add(candidate)
                    break
    return out


def _graph(*, runtime_only: bool = False) -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(path, name, known, runtime_only=runtime_only)
            for name, path in modules.items()}


def test_no_package_imports_a_layer_above_it() -> None:
    wrong = []
    for module, targets in sorted(_graph().items()):
        package = module.split(".", 1)[0]
        for target in sorted(targets):
            other = target.split(".", 1)[0]
            if other != package and other not in ALLOWED[package]:
                wrong.append(f"{module} imports {target}")
    assert not wrong, "imports against the layers:\n" + "\n".join(wrong)


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for target in graph.get(todo.pop(), ()):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def test_the_read_path_does_not_reach_the_write_path() -> None:
    graph = _graph()
    for module in READ_PATH:
        assert module in graph, f"{module} moved: update READ_PATH"
        reached = _reachable(graph, module) & set(WRITE_PATH)
        assert not reached, f"{module} reaches the write path through {sorted(reached)}"


def test_no_import_cycles() -> None:
    # Imports for the type checker only are left out: annotations that name each other are
    # no cycle at run time. Package __init__ modules here are docstrings, so a cycle is real.
    graph = _graph(runtime_only=True)
    cycles = [m for m in graph if m in _reachable(graph, m)]
    assert not cycles, f"modules in an import cycle: {sorted(cycles)}"
