"""What `verify_pack` reports: findings that each name a file, and a verdict."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    ERROR = "error"  # the pack is not what the vault signed, or does not prove its claims
    WARNING = "warning"  # it holds, with a reservation worth reading
    INFO = "info"


class FindingCode(StrEnum):
    """Stable codes for each kind of finding."""

    FILE_UNREADABLE = "file_unreadable"
    FILE_UNSAFE = "file_unsafe"
    FILE_MISSING = "file_missing"
    FILE_UNLISTED = "file_unlisted"
    FILE_HASH_MISMATCH = "file_hash_mismatch"
    FILE_SIZE_MISMATCH = "file_size_mismatch"
    FILE_NOT_INTERPRETED = "file_not_interpreted"
    MANIFEST_INVALID = "manifest_invalid"
    SIGNATURE_INVALID = "signature_invalid"
    SIGNATURE_MISMATCH = "signature_mismatch"
    KEYS_FROM_PACK = "keys_from_pack"
    DOCUMENT_INVALID = "document_invalid"
    ISSUER_KEYS_INVALID = "issuer_keys_invalid"
    VERIFICATION_MISMATCH = "verification_mismatch"
    VERIFICATION_TIME_MISMATCH = "verification_time_mismatch"
    CART_MISMATCH = "cart_mismatch"
    ROW_HASH_MISMATCH = "row_hash_mismatch"
    ROW_LINK_BROKEN = "row_link_broken"
    ROW_OTHER_CHAIN = "row_other_chain"
    ROW_OTHER_MANDATE = "row_other_mandate"
    ROW_NOT_PROVEN = "row_not_proven"
    PROOF_INVALID = "proof_invalid"
    CHECKPOINT_INVALID = "checkpoint_invalid"
    CHECKPOINT_MISSING = "checkpoint_missing"


@dataclass(frozen=True, slots=True)
class Finding:
    file: str
    code: FindingCode
    severity: Severity
    message: str

    def to_json(self) -> dict[str, str]:
        return {
            "file": self.file,
            "code": self.code.value,
            "severity": self.severity.value,
            "message": self.message,
        }

    def line(self) -> str:
        return f"{self.severity.value.upper():7} {self.file}: {self.message}"


class KeySource(StrEnum):
    GIVEN = "given"  # the verifier's own copy of the vault's keys: proves origin
    EMBEDDED = "embedded"  # the pack's vault/jwks.json: proves integrity only


class Verdict(StrEnum):
    VALID = "valid"
    VALID_WITH_WARNINGS = "valid_with_warnings"
    INVALID = "invalid"


@dataclass(frozen=True, slots=True)
class PackReport:
    findings: tuple[Finding, ...]
    mandate_id: str | None = None
    tenant_id: str | None = None
    chain_id: str | None = None
    created_at: str | None = None
    signed_by: str | None = None  # kid of the key that signed the manifest
    key_source: KeySource | None = None
    files_checked: int = 0
    rows_checked: int = 0
    rows_proven: int = 0
    checkpoints_checked: int = 0
    ingest_code: str | None = None  # recorded in the pack
    ingest_rerun_code: str | None = None  # what the engine says now, with the packed keys
    now_code: str | None = None
    now_rerun_code: str | None = None

    @property
    def ok(self) -> bool:
        return not any(f.severity is Severity.ERROR for f in self.findings)

    @property
    def verdict(self) -> Verdict:
        if not self.ok:
            return Verdict.INVALID
        if any(f.severity is Severity.WARNING for f in self.findings):
            return Verdict.VALID_WITH_WARNINGS
        return Verdict.VALID

    def files_with(self, severity: Severity = Severity.ERROR) -> set[str]:
        """The files named by findings of `severity`."""
        return {f.file for f in self.findings if f.severity is severity}

    def to_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict.value,
            "mandate_id": self.mandate_id,
            "tenant_id": self.tenant_id,
            "chain": self.chain_id,
            "created_at": self.created_at,
            "signed_by": self.signed_by,
            "key_source": self.key_source.value if self.key_source else None,
            "files_checked": self.files_checked,
            "rows_checked": self.rows_checked,
            "rows_proven": self.rows_proven,
            "checkpoints_checked": self.checkpoints_checked,
            "verification_at_ingest": {
                "recorded": self.ingest_code,
                "rerun": self.ingest_rerun_code,
            },
            "verification_now": {"recorded": self.now_code, "rerun": self.now_rerun_code},
            "findings": [f.to_json() for f in self.findings],
        }


def render_report(report: PackReport) -> str:
    """A readable verdict for a terminal."""
    title = {
        Verdict.VALID: "VALID",
        Verdict.VALID_WITH_WARNINGS: "VALID, with warnings",
        Verdict.INVALID: "INVALID",
    }[report.verdict]
    lines = [f"Evidence pack: {title}"]
    if report.mandate_id:
        lines.append(
            f"  mandate {report.mandate_id} (tenant {report.tenant_id or 'platform'}),"
            f" packed {report.created_at}"
        )
    if report.signed_by:
        source = "keys given" if report.key_source is KeySource.GIVEN else "the pack's own keys"
        lines.append(f"  manifest signed by {report.signed_by} (checked against {source})")
    lines.append(f"  files: {report.files_checked} checked against the manifest")
    lines.append(
        f"  audit: {report.rows_checked} rows recomputed, {report.rows_proven} proven under "
        f"{report.checkpoints_checked} signed checkpoints"
    )
    for label, recorded, rerun in (
        ("as of ingest", report.ingest_code, report.ingest_rerun_code),
        ("now", report.now_code, report.now_rerun_code),
    ):
        if recorded is not None:
            lines.append(f"  verification {label}: {recorded} (re-run here: {rerun or '-'})")
    if report.findings:
        lines.append("Findings:")
        lines.extend(f"  {finding.line()}" for finding in report.findings)
    return "\n".join(lines)
