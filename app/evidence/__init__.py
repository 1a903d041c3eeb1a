"""Evidence packs: one mandate's proof in a signed ZIP anyone can check offline.

Pure: the caller hands in the artifacts it read from the database; the
verifier needs nothing but the pack and the vault's public keys.
docs/evidence-pack.md is the format.
"""

from app.evidence.builder import (
    PackContents,
    PackFile,
    VerificationRecord,
    build_pack,
    prove_rows,
)
from app.evidence.documents import DocumentError, ProvenRow
from app.evidence.issuers import IssuerKeys, KeyVersion, StatusChange, issuers_as_of, trust_snapshot
from app.evidence.report import (
    Finding,
    FindingCode,
    KeySource,
    PackReport,
    Severity,
    Verdict,
    render_report,
)
from app.evidence.verifier import verify_pack
from app.evidence.zipio import PackUnreadable

__all__ = [
    "DocumentError",
    "Finding",
    "FindingCode",
    "IssuerKeys",
    "KeySource",
    "KeyVersion",
    "PackContents",
    "PackFile",
    "PackReport",
    "PackUnreadable",
    "ProvenRow",
    "Severity",
    "StatusChange",
    "Verdict",
    "VerificationRecord",
    "build_pack",
    "issuers_as_of",
    "prove_rows",
    "render_report",
    "trust_snapshot",
    "verify_pack",
]
