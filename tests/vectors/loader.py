"""Reading vector files: the project's own set, and the shared sample beside the repository.

`project_vectors()` is the set committed here (minted by `tests.vectors.mint`), always
present. The shared sample (`../shared/vectors/public.json` beside the repository
root) joins as a second set when it exists; `vector_set_params()` and
`vector_case_params()` are the one place that decides, and they turn an absent
sample into a single skipped parameter at collection time.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from app.keys import TrustedIssuer, TrustSnapshot

PROJECT_FILE = Path(__file__).with_name("public.json")
SHARED_FILE = Path(__file__).resolve().parents[2].parent / "shared" / "vectors" / "public.json"
ACTIVE = "active"


@dataclass(frozen=True, slots=True)
class VectorIssuer:
    """One entry of `issuers`: the POST /api/v1/issuers body, then the status to PATCH."""

    short: str
    body: dict[str, Any]
    status: str = ACTIVE

    @property
    def did(self) -> str:
        return str(self.body["did"])

    def trusted(self) -> TrustedIssuer:
        """The issuer as the engine's trust snapshot holds it."""
        if "jwks" in self.body:
            return TrustedIssuer.from_jwks(self.did, self.status, self.body["jwks"])
        return TrustedIssuer.from_did(self.did, self.status)


@dataclass(frozen=True, slots=True)
class VectorCase:
    """One entry of `cases`; `codes` is `code` as a tuple (a list in the file means any of them)."""

    name: str
    vc_jwt: str
    expect_status: tuple[int, ...]
    codes: tuple[str, ...]
    check_fields: dict[str, Any] = field(default_factory=dict)
    same_as: str | None = None

    @property
    def valid(self) -> bool:
        return "VALID" in self.codes


@dataclass(frozen=True, slots=True)
class VectorSet:
    """A vector file, parsed: issuers to register first, then cases in submission order."""

    label: str
    path: Path
    issuers: tuple[VectorIssuer, ...]
    cases: tuple[VectorCase, ...]

    @classmethod
    def load(cls, label: str, path: Path) -> VectorSet:
        data = json.loads(path.read_text(encoding="utf-8"))
        issuers = []
        for short, entry in data["issuers"].items():
            body = {k: v for k, v in entry.items() if k != "status"}
            issuers.append(VectorIssuer(short, body, entry.get("status", ACTIVE)))
        cases = tuple(
            VectorCase(
                name=case["name"],
                vc_jwt=case["vc_jwt"],
                expect_status=tuple(case["expect_status"]),
                codes=tuple(case["code"]) if isinstance(case["code"], list) else (case["code"],),
                check_fields=dict(case.get("check_fields") or {}),
                same_as=case.get("same_as"),
            )
            for case in data["cases"]
        )
        return cls(label, path, tuple(issuers), cases)

    def issuer(self, short: str) -> VectorIssuer:
        return next(i for i in self.issuers if i.short == short)

    def case(self, name: str) -> VectorCase:
        return next(c for c in self.cases if c.name == name)

    def trust(self) -> TrustSnapshot:
        return TrustSnapshot(i.trusted() for i in self.issuers)


@cache
def project_vectors() -> VectorSet:
    """The project's own vectors (tests/vectors/public.json)."""
    return VectorSet.load("project", PROJECT_FILE)


@cache
def shared_vectors() -> VectorSet | None:
    """The shared sample when it lies beside the repository, else None."""
    return VectorSet.load("shared", SHARED_FILE) if SHARED_FILE.is_file() else None


SHARED_ABSENT = f"shared vector sample not found at {SHARED_FILE} (only the project's set runs)"


def shared_set_param() -> Any:
    """The shared sample as one pytest param, skipped with a one-line reason when absent."""
    shared = shared_vectors()
    if shared is None:
        return pytest.param(None, id="shared", marks=pytest.mark.skip(reason=SHARED_ABSENT))
    return pytest.param(shared, id="shared")


def vector_set_params() -> list[Any]:
    """pytest params, one per vector set: the project's, then the shared sample."""
    return [pytest.param(project_vectors(), id="project"), shared_set_param()]


def vector_case_params(marks: dict[tuple[str, str], Iterable[Any]] | None = None) -> list[Any]:
    """pytest params (set, case), one per case of every set; `marks` by (set label, case name)."""
    marks = marks or {}
    params: list[Any] = []
    for param in vector_set_params():
        vectors = param.values[0]
        if vectors is None:
            params.append(pytest.param(None, None, id="shared", marks=param.marks))
            continue
        for case in vectors.cases:
            params.append(
                pytest.param(
                    vectors,
                    case,
                    id=f"{vectors.label}:{case.name}",
                    marks=tuple(marks.get((vectors.label, case.name), ())),
                )
            )
    return params
