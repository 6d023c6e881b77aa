"""Import layers: each package imports only the layers below it, and no import cycle exists.

Read with ``ast``, not by importing, so an import inside a function counts as much as one at
the top of a module: a lazy import is the usual way a forbidden dependency or a cycle hides
(``support/reminders.py`` and ``support/reminder_texts.py`` were such a cycle). Imports under
``if TYPE_CHECKING:`` are skipped, since they never run.
"""

from __future__ import annotations

import ast
import functools
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

_BELOW_HELPDESK = frozenset({"core", "kb", "retrieval", "support", "actions", "web", "bot"})

# First-party packages and what each may import besides itself: a package name, or a dotted
# module (its submodules included). Lowest layer first.
ALLOWED: dict[str, frozenset[str]] = {
    "core": frozenset(),
    "kb": frozenset({"core"}),
    "retrieval": frozenset({"core", "kb"}),
    # The web app imports support and must not load retrieval's model, so support stays on core.
    "support": frozenset({"core"}),
    # rasa-sdk's process: never the web app, nor the command that supervises it.
    "actions": frozenset({"core", "kb", "retrieval", "support"}),
    "web": frozenset({"core", "kb", "support"}),
    "helpdesk": _BELOW_HELPDESK,
    # Rasa's own Python 3.10 venv has none of our dependencies: only these standard-library
    # modules.
    "bot": frozenset({"support.code_format", "core.sqlite_wal"}),
    "bench": _BELOW_HELPDESK | {"helpdesk"},
    "tests": _BELOW_HELPDESK | {"helpdesk", "bench"},
}

# Rasa runs with bot/ on sys.path, so the bot's modules import each other by bare name
# (`import nlu_thread`); inside these packages such a name means the package's own module.
BARE_NAME_PACKAGES = frozenset({"bot"})


@dataclass(frozen=True)
class Import:
    source: str  # the importing module, dotted
    path: Path  # its file, relative to the root
    line: int
    target: str  # the first-party module imported, dotted
    resolved: bool  # False: no module of that name exists (a stale path after a move)

    @property
    def where(self) -> str:
        return f"{self.path.as_posix()}:{self.line}"


def _module_name(relative: Path) -> str:
    parts = list(relative.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def discover(root: Path, packages: Iterable[str]) -> dict[str, Path]:
    """Every first-party module: dotted name -> file relative to the root."""
    modules: dict[str, Path] = {}
    for package in packages:
        for file in sorted((root / package).rglob("*.py")):
            relative = file.relative_to(root)
            if any(part.startswith(".") or part == "__pycache__" for part in relative.parts):
                continue
            modules[_module_name(relative)] = relative
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement, in functions and classes too, except under TYPE_CHECKING."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        stack.extend(ast.iter_child_nodes(node))


class _Resolver:
    def __init__(self, modules: Mapping[str, Path], packages: Iterable[str]):
        self.modules = modules
        self.packages = frozenset(packages)
        # A package without __init__.py (bot/) is still a prefix the imports may name.
        self.known = set(modules)
        for name in modules:
            parts = name.split(".")
            self.known.update(".".join(parts[:i]) for i in range(1, len(parts)))

    def absolute(self, source: str, name: str) -> str | None:
        """The first-party dotted name an absolute import means in `source`, or None."""
        package = source.split(".")[0]
        if package in BARE_NAME_PACKAGES and f"{package}.{name.split('.')[0]}" in self.known:
            name = f"{package}.{name}"
        return name if name.split(".")[0] in self.packages else None

    def relative(self, source: str, level: int, name: str | None) -> str:
        is_package = self.modules[source].name == "__init__.py"
        base = source.split(".")
        # `from . import x` in a package's __init__ means the package itself, elsewhere the parent.
        drop = level - 1 if is_package else level
        base = base[: len(base) - drop]
        return ".".join([*base, name] if name else base)

    def exists(self, name: str) -> bool:
        # A package without __init__.py (bot/) exists too, it just has no code to run.
        return name in self.known


def collect_imports(root: Path, packages: Iterable[str]) -> list[Import]:
    """Every first-party import of every first-party module under `root`."""
    packages = list(packages)
    modules = discover(root, packages)
    resolver = _Resolver(modules, packages)
    found: list[Import] = []
    for source, relative in modules.items():
        tree = ast.parse((root / relative).read_text(encoding="utf-8"), filename=str(relative))
        for node in _import_nodes(tree):
            names: list[tuple[str, int]] = []
            if isinstance(node, ast.Import):
                for alias in node.names:
                    name = resolver.absolute(source, alias.name)
                    if name:
                        names.append((name, node.lineno))
            else:
                if node.level:
                    module = resolver.relative(source, node.level, node.module)
                else:
                    module = resolver.absolute(source, node.module or "")
                if not module:
                    continue
                for alias in node.names:
                    # `from pkg import mod` imports the module pkg.mod when there is one.
                    submodule = f"{module}.{alias.name}"
                    names.append((submodule if submodule in modules else module, node.lineno))
            for name, line in names:
                found.append(Import(source, relative, line, name, resolver.exists(name)))
    return found


def _package(module: str) -> str:
    return module.split(".")[0]


def _allows(entries: Iterable[str], target: str) -> bool:
    return any(target == entry or target.startswith(entry + ".") for entry in entries)


def layer_violations(
    imports: Iterable[Import], allowed: Mapping[str, frozenset[str]], package: str | None = None
) -> list[str]:
    """Readable lines for imports a package may not make (only `package`'s, if given)."""
    problems = []
    for imp in imports:
        source = _package(imp.source)
        if package is not None and source != package:
            continue
        if _package(imp.target) == source or _allows(allowed[source], imp.target):
            continue
        may = ", ".join(sorted(allowed[source])) or "no other first-party package"
        problems.append(f"{imp.where}: {source} imports {imp.target} ({source} may import: {may})")
    return problems


def _graph(imports: Iterable[Import]) -> dict[str, dict[str, Import]]:
    """Module -> the modules it imports, each with its first import statement."""
    graph: dict[str, dict[str, Import]] = {}
    for imp in imports:
        if imp.resolved and imp.target != imp.source:
            graph.setdefault(imp.source, {}).setdefault(imp.target, imp)
            graph.setdefault(imp.target, {})
    return graph


def _strongly_connected(graph: Mapping[str, Mapping[str, Import]]) -> list[list[str]]:
    """Tarjan's components (iterative: the module graph is deep enough to matter)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(sorted(component))
    return components


def _shortest_cycle(graph: Mapping[str, Mapping[str, Import]], members: list[str]) -> list[Import]:
    """The shortest cycle through the component's first module, as its import statements."""
    start, inside = members[0], set(members)
    came_from: dict[str, Import] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for child, imp in sorted(graph[node].items()):
            if child not in inside or child in came_from:
                continue
            came_from[child] = imp
            if child == start:
                path = [imp]
                while path[-1].source != start:
                    path.append(came_from[path[-1].source])
                return path[::-1]
            queue.append(child)
    raise AssertionError(f"no cycle through {start}")  # a component always has one


@dataclass(frozen=True)
class Cycle:
    members: frozenset[str]  # every module of the group that imports itself back
    path: list[Import]  # the shortest cycle through its first module


def find_cycles(imports: Iterable[Import]) -> list[Cycle]:
    """One shortest cycle per group of modules that import each other (directly or not)."""
    graph = _graph(imports)
    return [
        Cycle(frozenset(members), _shortest_cycle(graph, members))
        for members in _strongly_connected(graph)
        if len(members) > 1
    ]


def describe_chain(chain: list[Import]) -> str:
    """`a -> b -> c`, then each step's import statement as file:line."""
    names = " -> ".join([chain[0].source, *(imp.target for imp in chain)])
    steps = "".join(f"\n    {imp.where} imports {imp.target}" for imp in chain)
    return f"{names}{steps}"


def _reach(
    imports: Iterable[Import], sources: Iterable[str], wanted: Callable[[str], bool]
) -> list[list[Import]]:
    """For each module `wanted` accepts, the shortest import chain from any of `sources`."""
    graph = _graph(imports)
    came_from: dict[str, Import | None] = {source: None for source in sources if source in graph}
    queue = deque(sorted(came_from))
    chains = []
    while queue:
        node = queue.popleft()
        for child, imp in sorted(graph[node].items()):
            if child in came_from:
                continue
            came_from[child] = imp
            if wanted(child):
                chain = [imp]
                while (previous := came_from[chain[-1].source]) is not None:
                    chain.append(previous)
                chains.append(chain[::-1])
            else:
                queue.append(child)
    return chains


# --- the repository --------------------------------------------------------------------------


# Read once, when the first test asks, so that a file that does not parse fails those tests
# instead of the whole run's collection.
@functools.cache
def _imports() -> list[Import]:
    return collect_imports(ROOT, ALLOWED)


@functools.cache
def _cycles() -> list[Cycle]:
    return find_cycles(_imports())


@pytest.mark.parametrize("package", list(ALLOWED))
def test_package_imports_only_the_layers_below_it(package: str) -> None:
    problems = layer_violations(_imports(), ALLOWED, package)
    assert not problems, "forbidden imports:\n" + "\n".join(problems)


def test_actions_never_reach_the_web_clients() -> None:
    # The action server is the KB service the web clients call; importing a client would make
    # it call itself over HTTP (or drag the web app into rasa-sdk's process). Checked through
    # every chain of imports, not only the direct ones the table already forbids.
    modules = {imp.source for imp in _imports() if _package(imp.source) == "actions"}
    chains = _reach(
        _imports(),
        modules,
        lambda module: module == "web.clients" or module.startswith("web.clients."),
    )
    assert not chains, "actions reach the web's clients:\n" + "\n".join(
        describe_chain(chain) for chain in chains
    )


def test_no_import_cycles() -> None:
    cycles = _cycles()
    assert not cycles, "import cycles:\n" + "\n".join(describe_chain(c.path) for c in cycles)


def test_every_first_party_import_names_a_module() -> None:
    # After a move a lazy import of the old path only fails when its function first runs.
    stale = [f"{imp.where}: {imp.target}" for imp in _imports() if not imp.resolved]
    assert not stale, "imports of first-party modules that do not exist:\n" + "\n".join(stale)


def test_the_checker_sees_the_repository() -> None:
    # Guards the checker against passing on nothing (a wrong root, a parser that skips all).
    sources = {_package(imp.source) for imp in _imports()}
    assert sources >= {"kb", "retrieval", "support", "actions", "web", "helpdesk", "bot", "tests"}
    assert any(
        imp.target == "support.code_format" for imp in _imports() if imp.source.startswith("bot.")
    )


# --- the checker itself, on a tiny tree ------------------------------------------------------


def _write(root: Path, files: Mapping[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


TINY_ALLOWED = {"low": frozenset(), "high": frozenset({"low"})}


def test_checker_catches_a_forbidden_import_even_inside_a_function(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "low/__init__.py": "",
            "low/base.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n"
                "    from high import top\n"
                "def late():\n"
                "    from high.top import thing\n"
            ),
            "high/__init__.py": "",
            "high/top.py": "from low import base\nimport os\nthing = 1\n",
        },
    )
    imports = collect_imports(tmp_path, TINY_ALLOWED)

    problems = layer_violations(imports, TINY_ALLOWED)

    assert problems == [
        "low/base.py:5: low imports high.top (low may import: no other first-party package)"
    ]
    assert layer_violations(imports, TINY_ALLOWED, "high") == []


def test_checker_catches_a_cycle_hidden_in_a_function(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "low/__init__.py": "from low.a import f\n",
            "low/a.py": "def f():\n    from . import b\n",
            "low/b.py": "from low import c\n",
            "low/c.py": "import low.a\n",
            "high/__init__.py": "",
            "high/top.py": "import low\n",
        },
    )

    cycles = find_cycles(collect_imports(tmp_path, TINY_ALLOWED))

    assert [describe_chain(cycle.path) for cycle in cycles] == [
        "low.a -> low.b -> low.c -> low.a"
        "\n    low/a.py:2 imports low.b"
        "\n    low/b.py:1 imports low.c"
        "\n    low/c.py:1 imports low.a"
    ]


def test_checker_counts_package_reexports_and_flags_stale_paths(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "low/__init__.py": "from .a import f\n",
            "low/a.py": "from low import g\ndef f(): ...\n",
            "high/__init__.py": "",
            "high/top.py": "from high.gone import x\n",
        },
    )
    imports = collect_imports(tmp_path, TINY_ALLOWED)

    assert [describe_chain(c.path).splitlines()[0] for c in find_cycles(imports)] == [
        "low -> low.a -> low"
    ]
    assert [(imp.where, imp.target) for imp in imports if not imp.resolved] == [
        ("high/top.py:1", "high.gone")
    ]
