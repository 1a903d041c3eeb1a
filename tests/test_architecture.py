"""The rules of CONTRIBUTING.md, checked on the source so they cannot drift:

- a query on a tenant-owned table is built only in a repository module;
- feature packages never import each other in a circle;
- `app.core` and `app.keys` import nothing above them;
- only the HTTP edge imports FastAPI or Starlette.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

from app.models import Base

APP = Path(__file__).resolve().parents[1] / "app"

# Every mapped class with a tenant_id column: new tables are covered without edits here.
TENANT_OWNED = frozenset(
    mapper.class_.__name__
    for mapper in Base.registry.mappers
    if "tenant_id" in mapper.columns and mapper.class_.__name__ != "Tenant"
)
# Calls that build or run a query when a tenant-owned model is among their arguments.
QUERY_CALLS = frozenset(
    {"select", "insert", "update", "delete", "exists", "select_from", "join", "outerjoin"}
    | {"where", "filter", "filter_by", "get", "scalar", "scalars", "execute", "with_only_columns"}
)
# Platform-wide work over every tenant's rows, each with the reason it is not a repository.
PLATFORM_WIDE = {
    "dbops/retention.py": "retention purges every tenant's old rows in batches",
    "dbops/copy.py": "copies whole tables between databases",
    "alerts/detectors.py": "the alert sweep looks for conditions in every tenant's rows",
}
HTTP_EDGE_FILES = frozenset({"router.py", "deps.py"})
HTTP_EDGE_PACKAGES = frozenset({"web", "dashboard"})


def _sources() -> list[Path]:
    return sorted(APP.rglob("*.py"))


def _relative(path: Path, root: Path = APP) -> str:
    return path.relative_to(root).as_posix()


def _mentions_tenant_model(node: ast.AST) -> str | None:
    for child in ast.walk(node):
        if isinstance(child, ast.Name) and child.id in TENANT_OWNED:
            return child.id
    return None


def _callee(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _unscoped_queries(path: Path, root: Path = APP) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or _callee(node) not in QUERY_CALLS:
            continue
        for argument in [*node.args, *(k.value for k in node.keywords)]:
            model = _mentions_tenant_model(argument)
            if model is not None:
                found.append(
                    f"{_relative(path, root)}:{node.lineno} {_callee(node)}(... {model} ...)"
                )
                break
    return found


def test_tenant_owned_tables_are_known() -> None:
    assert {"Mandate", "Issuer", "User", "ApiKey", "IdempotencyKey", "AuditLog"} <= TENANT_OWNED


def test_queries_on_tenant_owned_tables_live_in_repositories() -> None:
    offenders = []
    for path in _sources():
        relative = _relative(path)
        if path.name == "repository.py" or path.name.endswith("_repository.py"):
            continue
        if relative in PLATFORM_WIDE or relative.startswith("models/"):
            continue
        offenders += _unscoped_queries(path)
    assert not offenders, "build these queries in the feature's repository:\n" + "\n".join(
        offenders
    )


def test_the_scope_check_catches_a_query_outside_a_repository(tmp_path: Path) -> None:
    sample = tmp_path / "service.py"
    sample.write_text(
        "from sqlalchemy import select\n"
        "from app.models import Mandate\n"
        "async def leak(session):\n"
        "    return await session.scalars(select(Mandate).where(Mandate.status == 'active'))\n"
    )
    assert "service.py:4 select(... Mandate ...)" in _unscoped_queries(sample, tmp_path)


def _imports(path: Path) -> set[str]:
    """The app modules `path` imports (at any depth, lazy imports included)."""
    tree = ast.parse(path.read_text(), str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return {name for name in names if name == "app" or name.startswith("app.")}


def _package(path: Path) -> str | None:
    parts = path.relative_to(APP).parts
    return parts[0] if len(parts) > 1 else None  # app/main.py, app/cli.py: composition roots


def _package_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for path in _sources():
        package = _package(path)
        if package is None:
            continue
        for module in _imports(path):
            parts = module.split(".")
            target = parts[1] if len(parts) > 1 else None
            if target and target != package and (APP / target).is_dir():
                graph[package].add(target)
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state and (found := visit(target)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_packages_import_each_other_in_one_direction_only() -> None:
    cycle = _cycle(_package_graph())
    assert cycle is None, "import cycle between packages: " + " -> ".join(cycle or [])


def test_the_cycle_check_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": {"c"}}) is None


@pytest.mark.parametrize(("package", "allowed"), [("core", set()), ("keys", set())])
def test_the_lowest_layers_import_nothing_above_them(package: str, allowed: set[str]) -> None:
    assert _package_graph().get(package, set()) <= allowed


def test_only_the_http_edge_imports_the_web_framework() -> None:
    offenders = []
    for path in _sources():
        parts = path.relative_to(APP).parts
        composition_root = len(parts) == 1  # app/main.py, app/cli.py wire everything
        if composition_root or path.name in HTTP_EDGE_FILES or parts[0] in HTTP_EDGE_PACKAGES:
            continue
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            modules = []
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                modules = [node.module]
            for module in modules:
                if module.split(".")[0] in {"fastapi", "starlette"} or module.split(".")[:2] == [
                    "app",
                    "web",
                ]:
                    offenders.append(f"{_relative(path)}:{node.lineno} imports {module}")
    assert not offenders, "\n".join(offenders)
