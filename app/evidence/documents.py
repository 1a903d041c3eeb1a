"""The JSON documents inside an evidence pack: how they are written and read back.

Writers produce indented, key-sorted UTF-8 JSON (the bytes are what the
manifest hashes). Readers are strict and raise DocumentError with a reason,
never anything else, whatever the bytes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from app.audit.chain import SealedEntry, format_time, row_record
from app.evidence.issuers import IssuerKeys
from app.keys import b64url_decode
from app.mandates.verification import MandateFields, VerificationResult
from app.mandates.verification.codes import Rejection
from app.mandates.verification.content import read_envelope

_HEX64 = re.compile(r"[0-9a-f]{64}")
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")
MAX_ROWS = 10_000
MAX_PATH = 64


class DocumentError(ValueError):
    """A pack document that does not follow the format."""


def dump_json(document: Any) -> bytes:
    """Indented, key-sorted JSON; values orjson cannot write natively become text."""
    return orjson.dumps(
        document, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS, default=str
    ) + (b"\n")


def load_json(data: bytes) -> Any:
    """Strict UTF-8 JSON; DocumentError otherwise."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise DocumentError(f"not valid JSON ({str(exc)[:80]})") from None


def _object(value: Any, what: str) -> dict[str, Any]:
    if type(value) is not dict:
        raise DocumentError(f"{what} must be a JSON object")
    return value


def _text(value: Any, what: str, *, optional: bool = False) -> Any:
    if value is None and optional:
        return None
    if type(value) is not str or not value:
        raise DocumentError(f"{what} must be a non-empty string")
    return value


def _int(value: Any, what: str, low: int = 0) -> int:
    if type(value) is not int or value < low:
        raise DocumentError(f"{what} must be an integer >= {low}")
    return value


def read_time(value: Any, what: str) -> datetime:
    """A time in the records' one textual form."""
    if type(value) is not str or not _TIME.fullmatch(value):
        raise DocumentError(f"{what} must be a UTC time YYYY-MM-DDTHH:MM:SS.ffffffZ")
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise DocumentError(f"{what} is not a real date") from None


# --- verification results ------------------------------------------------------------------


def _fields(fields: MandateFields | None) -> dict[str, Any] | None:
    if fields is None:
        return None
    return {
        "mandate_type": fields.mandate_type,
        "issuer_did": fields.issuer_did,
        "subject_did": fields.subject_did,
        "jti": fields.jti,
        "scope": fields.scope,
        "amount_limit": None if fields.amount_limit is None else str(fields.amount_limit),
        "currency": fields.currency,
        "merchants": list(fields.merchants),
        "expires_at": format_time(fields.expires_at),
        "not_before": None if fields.not_before is None else format_time(fields.not_before),
        "issued_at": format_time(fields.issued_at),
        "kid": fields.kid,
        "alg": fields.alg,
        "details": fields.details,
    }


def verification_document(result: VerificationResult, as_of: datetime) -> dict[str, Any]:
    """A verification result and the moment it was computed for."""
    return {
        "as_of": format_time(as_of),
        "code": result.code.value,
        "reason": result.reason,
        "details": result.details,
        "fields": _fields(result.fields),
    }


@dataclass(frozen=True, slots=True)
class RecordedVerification:
    as_of: datetime
    code: str
    reason: str


def read_verification(document: Any) -> RecordedVerification:
    data = _object(document, "the verification document")
    reason = data.get("reason")
    return RecordedVerification(
        as_of=read_time(data.get("as_of"), "as_of"),
        code=_text(data.get("code"), "code"),
        reason=reason if isinstance(reason, str) else "",
    )


# --- issuer keys ---------------------------------------------------------------------------


def issuer_keys_document(as_of: datetime, issuers: Sequence[IssuerKeys]) -> dict[str, Any]:
    return {"as_of": format_time(as_of), "issuers": [issuer.to_json() for issuer in issuers]}


def read_issuer_keys(document: Any) -> tuple[datetime, tuple[IssuerKeys, ...]]:
    data = _object(document, "the issuer keys document")
    as_of = read_time(data.get("as_of"), "as_of")
    issuers = data.get("issuers")
    if type(issuers) is not list or len(issuers) > 100:
        raise DocumentError("'issuers' must be a list of at most 100 issuers")
    result = []
    for index, item in enumerate(issuers):
        entry = _object(item, f"issuers[{index}]")
        jwks = entry.get("jwks")
        if jwks is not None:
            _object(jwks, f"issuers[{index}].jwks")
        result.append(
            IssuerKeys(
                did=_text(entry.get("did"), f"issuers[{index}].did"),
                status=_text(entry.get("status"), f"issuers[{index}].status"),
                jwks=jwks,
            )
        )
    return as_of, tuple(result)


# --- audit rows ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProvenRow:
    """An audit row with its inclusion proof under a checkpoint (or none yet)."""

    row: SealedEntry
    checkpoint_seq: int | None = None
    leaf_index: int | None = None
    tree_size: int | None = None
    proof: tuple[bytes, ...] = ()


def rows_document(chain_id: str, rows: Sequence[ProvenRow]) -> dict[str, Any]:
    entries = []
    for proven in rows:
        row = proven.row
        proof = None
        if proven.checkpoint_seq is not None:
            proof = {
                "checkpoint_seq": proven.checkpoint_seq,
                "leaf_index": proven.leaf_index,
                "tree_size": proven.tree_size,
                "path": [node.hex() for node in proven.proof],
            }
        entries.append(
            {
                "seq": row.seq,
                "record": row_record(row, row.seq, row.prev_hash),
                "row_hash": row.row_hash,
                "proof": proof,
            }
        )
    return {"chain": chain_id, "rows": entries}


@dataclass(frozen=True, slots=True)
class PackedRow:
    """One row as read from audit/rows.json."""

    position: int  # index in the file, for messages
    seq: int
    record: dict[str, Any]
    row_hash: str
    checkpoint_seq: int | None
    leaf_index: int | None
    tree_size: int | None
    proof: tuple[bytes, ...]


def _proof(value: Any, what: str) -> tuple[int | None, int | None, int | None, tuple[bytes, ...]]:
    if value is None:
        return None, None, None, ()
    data = _object(value, what)
    path = data.get("path")
    if type(path) is not list or len(path) > MAX_PATH:
        raise DocumentError(f"{what}.path must be a list of at most {MAX_PATH} hashes")
    nodes = []
    for node in path:
        if type(node) is not str or not _HEX64.fullmatch(node):
            raise DocumentError(f"{what}.path holds something other than SHA-256 hex")
        nodes.append(bytes.fromhex(node))
    return (
        _int(data.get("checkpoint_seq"), f"{what}.checkpoint_seq", 1),
        _int(data.get("leaf_index"), f"{what}.leaf_index"),
        _int(data.get("tree_size"), f"{what}.tree_size", 1),
        tuple(nodes),
    )


def read_rows(document: Any) -> tuple[str, list[PackedRow]]:
    data = _object(document, "the audit rows document")
    chain = _text(data.get("chain"), "chain")
    rows = data.get("rows")
    if type(rows) is not list or len(rows) > MAX_ROWS:
        raise DocumentError(f"'rows' must be a list of at most {MAX_ROWS} rows")
    result = []
    for index, item in enumerate(rows):
        what = f"rows[{index}]"
        entry = _object(item, what)
        row_hash = entry.get("row_hash")
        if type(row_hash) is not str or not _HEX64.fullmatch(row_hash):
            raise DocumentError(f"{what}.row_hash must be SHA-256 hex")
        checkpoint_seq, leaf_index, tree_size, proof = _proof(entry.get("proof"), f"{what}.proof")
        result.append(
            PackedRow(
                position=index,
                seq=_int(entry.get("seq"), f"{what}.seq", 1),
                record=_object(entry.get("record"), f"{what}.record"),
                row_hash=row_hash,
                checkpoint_seq=checkpoint_seq,
                leaf_index=leaf_index,
                tree_size=tree_size,
                proof=proof,
            )
        )
    return chain, result


def checkpoints_document(checkpoints: Sequence[str]) -> dict[str, Any]:
    return {"checkpoints": list(checkpoints)}


def read_checkpoints(document: Any) -> list[str]:
    data = _object(document, "the checkpoints document")
    items = data.get("checkpoints")
    if type(items) is not list or len(items) > MAX_ROWS:
        raise DocumentError("'checkpoints' must be a list of compact JWS strings")
    return [_text(item, f"checkpoints[{index}]") for index, item in enumerate(items)]


# --- the token -----------------------------------------------------------------------------


def cart_artifacts(token: str) -> tuple[dict[str, Any], str] | None:
    """A cart mandate's contents and merchant authorization, read from its payload."""
    try:
        payload = orjson.loads(b64url_decode(token.split(".")[1]))
        if type(payload) is not dict:
            return None
        kind, _vc, subject = read_envelope(payload)
    except (ValueError, IndexError, Rejection):
        return None
    contents, authorization = subject.get("contents"), subject.get("merchant_authorization")
    if kind != "cart" or type(contents) is not dict or type(authorization) is not str:
        return None
    return contents, authorization
