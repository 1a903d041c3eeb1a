"""requirements.txt is pyproject.toml's runtime dependencies, pinned with everything
they pull in, and the environment the tests run in holds exactly those pins.

Checked offline from the installed packages' metadata, so a new release on the
package index never fails the suite; `./scripts/compile_requirements.sh`
regenerates the file.
"""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]


def pinned() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        requirement = Requirement(line)
        (spec,) = requirement.specifier
        assert spec.operator == "==", f"not pinned exactly: {line}"
        pins[canonicalize_name(requirement.name)] = spec.version
    return pins


def direct() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(item) for item in project["dependencies"]]


def closure(roots: list[Requirement]) -> dict[str, list[Requirement]]:
    """Every distribution the roots need on this platform, with what asked for it."""
    needed: dict[str, list[Requirement]] = {}
    todo = [(requirement, frozenset(requirement.extras)) for requirement in roots]
    seen: set[tuple[str, frozenset[str]]] = set()
    while todo:
        requirement, extras = todo.pop()
        name = canonicalize_name(requirement.name)
        needed.setdefault(name, []).append(requirement)
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        for text in metadata.requires(name) or []:
            child = Requirement(text)
            environments = [{"extra": extra} for extra in extras] or [{"extra": ""}]
            if child.marker is None or any(child.marker.evaluate(e) for e in environments):
                todo.append((child, frozenset(child.extras)))
    return needed


def test_the_direct_dependencies_are_pinned_as_in_pyproject() -> None:
    pins = pinned()
    for requirement in direct():
        (spec,) = requirement.specifier
        name = canonicalize_name(requirement.name)
        assert pins.get(name) == spec.version, (
            f"{name}: pyproject.toml pins {spec.version}, requirements.txt {pins.get(name)}; "
            "run ./scripts/compile_requirements.sh"
        )


def test_the_file_lists_exactly_what_the_dependencies_need() -> None:
    needed = closure(direct())
    pins = pinned()
    assert sorted(set(needed) - set(pins)) == [], "missing from requirements.txt"
    assert sorted(set(pins) - set(needed)) == [], "in requirements.txt but needed by nothing"
    for name, wanted_by in needed.items():
        for requirement in wanted_by:
            assert Version(pins[name]) in requirement.specifier, (
                f"{name}=={pins[name]} does not satisfy {requirement}"
            )


def test_the_tests_run_on_the_pinned_versions() -> None:
    mismatched = {
        name: (version, metadata.version(name))
        for name, version in pinned().items()
        if Version(metadata.version(name)) != Version(version)
    }
    assert mismatched == {}, "(pinned, installed); run `make install`"


def test_the_file_says_how_it_was_made() -> None:
    assert "./scripts/compile_requirements.sh" in (ROOT / "requirements.txt").read_text()
