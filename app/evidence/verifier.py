"""Verifying an evidence pack offline: `verify_pack(data, jwks) -> PackReport`.

In order: the archive (readable members, plain names), the manifest's
signature (with the vault keys the caller trusts; with the pack's own
vault/jwks.json only as a flagged fallback), the manifest itself, every
file's size and SHA-256 against it, then what the files claim: the token's
verification re-run as of ingest and as of the "now" result with the packed
issuer keys, the cart artifacts against the token, every audit row's hash
recomputed, every checkpoint's signature, and every row's inclusion proof
against its checkpoint's signed root. Each finding names its file. Only
PackUnreadable (not a ZIP at all) and KeySetInvalid (the caller's JWKS) raise.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from app.audit.chain import UnhashableRow, record_hash
from app.audit.checkpoint import Checkpoint, CheckpointInvalid, read_checkpoint
from app.audit.merkle import verify_inclusion
from app.evidence import layout
from app.evidence.documents import (
    DocumentError,
    cart_artifacts,
    load_json,
    read_checkpoints,
    read_issuer_keys,
    read_rows,
    read_time,
    read_verification,
)
from app.evidence.issuers import trust_snapshot
from app.evidence.report import Finding, FindingCode, KeySource, PackReport, Severity
from app.evidence.zipio import ZipContents, read_zip, safe_name
from app.mandates.verification import verify_token
from app.signing import JwsInvalid, KeySet, KeySetInvalid, verify_jws

_HEX64 = re.compile(r"[0-9a-f]{64}")
_MANIFEST_MEMBERS = frozenset(
    {"format", "version", "mandate_id", "tenant_id", "chain", "created_at", "files"}
)
_KNOWN = frozenset({*layout.REQUIRED, layout.CART_CONTENTS, layout.MERCHANT_AUTHORIZATION})
_MAX_MANIFEST_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class _Manifest:
    mandate_id: str
    tenant_id: str | None
    chain: str
    created_at: str
    files: dict[str, tuple[str, int]]  # path -> (sha256, size)


@dataclass
class _Run:
    zip: ZipContents
    findings: list[Finding] = field(default_factory=list)
    trusted: dict[str, bytes] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)

    def error(self, file: str, code: FindingCode, message: str) -> None:
        self.findings.append(Finding(file, code, Severity.ERROR, message))

    def warn(self, file: str, code: FindingCode, message: str) -> None:
        self.findings.append(Finding(file, code, Severity.WARNING, message))

    def json(self, path: str) -> Any:
        """A trusted file's JSON, or None (with a finding) when it is not usable."""
        if path not in self.trusted:
            return None
        try:
            return load_json(self.trusted[path])
        except DocumentError as exc:
            self.error(path, FindingCode.DOCUMENT_INVALID, str(exc))
            return None


def _keys(run: _Run, jwks: Mapping[str, Any] | KeySet | None) -> KeySet | None:
    if jwks is not None:
        run.facts["key_source"] = KeySource.GIVEN
        return jwks if isinstance(jwks, KeySet) else KeySet.from_jwks(jwks)
    run.facts["key_source"] = KeySource.EMBEDDED
    embedded = run.zip.members.get(layout.VAULT_JWKS)
    if embedded is None:
        run.error(layout.VAULT_JWKS, FindingCode.FILE_MISSING, "no vault keys to check signatures")
        return None
    try:
        keys = KeySet.from_jwks(load_json(embedded))
    except (DocumentError, KeySetInvalid) as exc:
        run.error(layout.VAULT_JWKS, FindingCode.DOCUMENT_INVALID, str(exc))
        return None
    run.warn(
        layout.MANIFEST_JWS,
        FindingCode.KEYS_FROM_PACK,
        "checked against the pack's own vault/jwks.json: this shows the pack is intact, "
        "not who made it; verify with the vault's published keys (--jwks) for that",
    )
    return keys


def _signature(run: _Run, keys: KeySet | None) -> None:
    manifest = run.zip.members.get(layout.MANIFEST)
    signed = run.zip.members.get(layout.MANIFEST_JWS)
    if signed is None:
        run.error(
            layout.MANIFEST_JWS, FindingCode.FILE_MISSING, "the manifest signature is missing"
        )
        return
    if keys is None:
        return
    try:
        verified = verify_jws(
            signed.decode("ascii"), keys, typ=layout.MANIFEST_TYP, max_bytes=_MAX_MANIFEST_BYTES * 2
        )
    except UnicodeDecodeError:
        run.error(layout.MANIFEST_JWS, FindingCode.SIGNATURE_INVALID, "is not a compact JWS")
        return
    except JwsInvalid as exc:
        run.error(layout.MANIFEST_JWS, FindingCode.SIGNATURE_INVALID, f"{exc.message} ({exc.code})")
        return
    run.facts["signed_by"] = verified.kid
    if manifest is not None and verified.payload != manifest:
        run.error(
            layout.MANIFEST,
            FindingCode.SIGNATURE_MISMATCH,
            "is not the manifest that manifest.jws signs",
        )


def _manifest(run: _Run) -> _Manifest | None:
    raw = run.zip.members.get(layout.MANIFEST)
    if raw is None:
        run.error(layout.MANIFEST, FindingCode.FILE_MISSING, "the pack has no manifest")
        return None

    def bad(reason: str) -> None:
        run.error(layout.MANIFEST, FindingCode.MANIFEST_INVALID, reason)

    try:
        data = load_json(raw)
    except DocumentError as exc:
        bad(str(exc))
        return None
    if type(data) is not dict or set(data) != _MANIFEST_MEMBERS:
        bad("does not have exactly the manifest members")
        return None
    if data["format"] != layout.FORMAT or data["version"] != layout.VERSION:
        bad(f"is format {data['format']!r} version {data['version']!r}, not {layout.FORMAT} 1")
        return None
    mandate_id, tenant_id, chain = data["mandate_id"], data["tenant_id"], data["chain"]
    if (
        type(mandate_id) is not str
        or type(chain) is not str
        or (tenant_id is not None and type(tenant_id) is not str)
    ):
        bad("mandate_id, tenant_id and chain must be strings")
        return None
    try:
        read_time(data["created_at"], "created_at")
    except DocumentError as exc:
        bad(str(exc))
        return None
    if type(data["files"]) is not list:
        bad("'files' must be a list")
        return None
    files: dict[str, tuple[str, int]] = {}
    for index, entry in enumerate(data["files"]):
        if type(entry) is not dict:
            bad(f"files[{index}] is not an object")
            return None
        path, digest, size = entry.get("path"), entry.get("sha256"), entry.get("size")
        if type(path) is not str or not safe_name(path) or path in files:
            bad(f"files[{index}] has a missing, unsafe or repeated path")
            return None
        if path in (layout.MANIFEST, layout.MANIFEST_JWS):
            bad(f"files[{index}] lists the manifest itself")
            return None
        if type(digest) is not str or not _HEX64.fullmatch(digest):
            bad(f"files[{index}] ({path}) has no SHA-256 hex digest")
            return None
        if type(size) is not int or size < 0:
            bad(f"files[{index}] ({path}) has no size")
            return None
        files[path] = (digest, size)
    return _Manifest(mandate_id, tenant_id, chain, data["created_at"], files)


def _files(run: _Run, manifest: _Manifest) -> None:
    problems = {name for name, _ in run.zip.problems}
    for path, (digest, size) in sorted(manifest.files.items()):
        data = run.zip.members.get(path)
        if data is None:
            if path not in problems:
                run.error(path, FindingCode.FILE_MISSING, "is listed in the manifest but absent")
            continue
        if len(data) != size:
            run.error(
                path, FindingCode.FILE_SIZE_MISMATCH, f"is {len(data)} bytes; manifest: {size}"
            )
        elif hashlib.sha256(data).hexdigest() != digest:
            run.error(path, FindingCode.FILE_HASH_MISMATCH, "its SHA-256 is not the manifest's")
        else:
            run.trusted[path] = data
    for name in run.zip.members:
        if name not in manifest.files and name not in (layout.MANIFEST, layout.MANIFEST_JWS):
            run.error(name, FindingCode.FILE_UNLISTED, "is in the archive but not in the manifest")
    for path in layout.REQUIRED:
        if path not in manifest.files:
            run.error(path, FindingCode.FILE_MISSING, "every pack carries this file")


def _verification(
    run: _Run, token: str, result_path: str, keys_path: str
) -> tuple[str, str] | None:
    """(recorded code, re-run code) for one of the two verifications."""
    result_doc, keys_doc = run.json(result_path), run.json(keys_path)
    if result_doc is None or keys_doc is None:
        return None
    try:
        recorded = read_verification(result_doc)
    except DocumentError as exc:
        run.error(result_path, FindingCode.DOCUMENT_INVALID, str(exc))
        return None
    try:
        as_of, issuers = read_issuer_keys(keys_doc)
        snapshot = trust_snapshot(issuers)
    except DocumentError as exc:
        run.error(keys_path, FindingCode.DOCUMENT_INVALID, str(exc))
        return None
    except ValueError as exc:  # InvalidKeyMaterial, or an unknown issuer status
        run.error(keys_path, FindingCode.ISSUER_KEYS_INVALID, f"unusable issuer keys: {exc}")
        return None
    if as_of != recorded.as_of:
        run.warn(
            keys_path,
            FindingCode.VERIFICATION_TIME_MISMATCH,
            f"keys as of {as_of.isoformat()}, verification as of {recorded.as_of.isoformat()}",
        )
    rerun = verify_token(token, snapshot, now=recorded.as_of)
    if rerun.code.value != recorded.code:
        run.error(
            result_path,
            FindingCode.VERIFICATION_MISMATCH,
            f"records {recorded.code}, but the token with the packed issuer keys gives "
            f"{rerun.code.value} ({rerun.reason})",
        )
    return recorded.code, rerun.code.value


def _mandate(run: _Run) -> None:
    raw = run.trusted.get(layout.TOKEN)
    if raw is None:
        return
    try:
        token = raw.decode("ascii").strip()
    except UnicodeDecodeError:
        run.error(layout.TOKEN, FindingCode.DOCUMENT_INVALID, "is not a compact JWS (not ASCII)")
        return
    for prefix, result_path, keys_path in (
        ("ingest", layout.VERIFICATION_AT_INGEST, layout.ISSUER_KEYS_AT_INGEST),
        ("now", layout.VERIFICATION_NOW, layout.ISSUER_KEYS_NOW),
    ):
        codes = _verification(run, token, result_path, keys_path)
        if codes is not None:
            run.facts[f"{prefix}_code"], run.facts[f"{prefix}_rerun_code"] = codes
    _cart(run, token)


def _cart(run: _Run, token: str) -> None:
    cart = cart_artifacts(token)
    listed = run.facts["listed"]
    for path in (layout.CART_CONTENTS, layout.MERCHANT_AUTHORIZATION):
        if cart is None:
            if path in listed:
                run.error(path, FindingCode.CART_MISMATCH, "the token is not a cart mandate")
        elif path not in listed:
            run.error(path, FindingCode.FILE_MISSING, "a cart mandate's pack carries this file")
    if cart is None:
        return
    contents = run.json(layout.CART_CONTENTS)
    # run.json reported an unreadable file already (contents is None then).
    if contents is not None and contents != cart[0]:
        run.error(layout.CART_CONTENTS, FindingCode.CART_MISMATCH, "is not the token's cart")
    authorization = run.trusted.get(layout.MERCHANT_AUTHORIZATION)
    if authorization is not None and authorization != cart[1].encode("ascii"):
        run.error(
            layout.MERCHANT_AUTHORIZATION,
            FindingCode.CART_MISMATCH,
            "is not the token's merchant authorization",
        )


def _checkpoints(run: _Run, keys: KeySet | None, chain: str) -> dict[int, Checkpoint]:
    path = layout.AUDIT_CHECKPOINTS
    document = run.json(path)
    if document is None or keys is None:
        return {}
    try:
        tokens = read_checkpoints(document)
    except DocumentError as exc:
        run.error(path, FindingCode.DOCUMENT_INVALID, str(exc))
        return {}
    found: dict[int, Checkpoint] = {}
    for index, jws in enumerate(tokens):
        try:
            checkpoint = read_checkpoint(jws, keys)
        except CheckpointInvalid as exc:
            run.error(path, FindingCode.CHECKPOINT_INVALID, f"checkpoints[{index}]: {exc.message}")
            continue
        if checkpoint.chain_id != chain:
            run.error(
                path, FindingCode.CHECKPOINT_INVALID, f"checkpoints[{index}] signs another chain"
            )
            continue
        if found.get(checkpoint.seq, checkpoint) != checkpoint:
            run.error(
                path, FindingCode.CHECKPOINT_INVALID, f"two checkpoints for seq {checkpoint.seq}"
            )
            continue
        found[checkpoint.seq] = checkpoint
    run.facts["checkpoints_checked"] = len(found)
    return found


def _audit(run: _Run, manifest: _Manifest, keys: KeySet | None) -> None:
    checkpoints = _checkpoints(run, keys, manifest.chain)
    path = layout.AUDIT_ROWS
    document = run.json(path)
    if document is None:
        return
    try:
        chain, rows = read_rows(document)
    except DocumentError as exc:
        run.error(path, FindingCode.DOCUMENT_INVALID, str(exc))
        return
    if chain != manifest.chain:
        run.error(
            path, FindingCode.ROW_OTHER_CHAIN, f"rows of chain {chain}, pack of {manifest.chain}"
        )
        return
    checked = proven = 0
    hashes: dict[int, str] = {}
    for row in rows:
        where = f"row seq {row.seq}"
        record = row.record
        if record.get("seq") != row.seq or record.get("chain") != chain:
            run.error(path, FindingCode.ROW_OTHER_CHAIN, f"{where}: its record names another place")
            continue
        try:
            recomputed = record_hash(record)
        except UnhashableRow as exc:
            run.error(path, FindingCode.ROW_HASH_MISMATCH, f"{where}: no canonical form ({exc})")
            continue
        if recomputed != row.row_hash:
            run.error(
                path, FindingCode.ROW_HASH_MISMATCH, f"{where}: its fields do not give its row_hash"
            )
            continue
        if row.seq in hashes:
            run.error(path, FindingCode.DOCUMENT_INVALID, f"{where} appears twice")
            continue
        hashes[row.seq] = row.row_hash
        checked += 1
        if (
            record.get("resource_type") != "mandate"
            or record.get("resource_id") != manifest.mandate_id
        ):
            run.warn(path, FindingCode.ROW_OTHER_MANDATE, f"{where} is not about this mandate")
        if _proved(run, row, checkpoints, where):
            proven += 1
    by_seq = {row.seq: row for row in rows if hashes.get(row.seq) == row.row_hash}
    for seq, row_hash in hashes.items():
        after = by_seq.get(seq + 1)
        if after is not None and after.record.get("prev_hash") != row_hash:
            run.error(
                path, FindingCode.ROW_LINK_BROKEN, f"row seq {seq + 1} does not follow row {seq}"
            )
    run.facts["rows_checked"], run.facts["rows_proven"] = checked, proven


def _proved(run: _Run, row: Any, checkpoints: dict[int, Checkpoint], where: str) -> bool:
    path = layout.AUDIT_ROWS
    if row.checkpoint_seq is None:
        run.warn(path, FindingCode.ROW_NOT_PROVEN, f"{where} is not yet under a signed checkpoint")
        return False
    checkpoint = checkpoints.get(row.checkpoint_seq)
    if checkpoint is None:
        run.error(
            path,
            FindingCode.CHECKPOINT_MISSING,
            f"{where}: its proof names checkpoint {row.checkpoint_seq}, "
            "which audit/checkpoints.json does not hold (valid and signed)",
        )
        return False
    # Leaf position and tree size come from the signed checkpoint, never from the proof.
    index, size = row.seq - checkpoint.first_seq, checkpoint.size
    if row.leaf_index != index or row.tree_size != size:
        run.error(path, FindingCode.PROOF_INVALID, f"{where}: its proof is for another position")
        return False
    if not verify_inclusion(
        bytes.fromhex(row.row_hash), index, size, row.proof, bytes.fromhex(checkpoint.root)
    ):
        run.error(
            path,
            FindingCode.PROOF_INVALID,
            f"{where}: not included under checkpoint {checkpoint.seq}'s signed root",
        )
        return False
    return True


def verify_pack(data: bytes, jwks: Mapping[str, Any] | KeySet | None = None) -> PackReport:
    """Check an evidence pack offline; raises only PackUnreadable and KeySetInvalid."""
    run = _Run(read_zip(data))
    for name, reason in run.zip.problems:
        code = (
            FindingCode.FILE_UNSAFE
            if "path" in reason or "folder" in reason
            else FindingCode.FILE_UNREADABLE
        )
        run.error(name, code, reason)
    keys = _keys(run, jwks)
    _signature(run, keys)
    manifest = _manifest(run)
    if manifest is not None:
        _files(run, manifest)
        run.facts["listed"] = set(manifest.files)
        _mandate(run)
        _audit(run, manifest, keys)
        for path in sorted(set(run.trusted) - _KNOWN):
            run.findings.append(
                Finding(
                    path,
                    FindingCode.FILE_NOT_INTERPRETED,
                    Severity.INFO,
                    "hash-checked and signed; this verifier does not interpret it",
                )
            )
    facts = run.facts
    return PackReport(
        findings=tuple(run.findings),
        mandate_id=manifest.mandate_id if manifest else None,
        tenant_id=manifest.tenant_id if manifest else None,
        chain_id=manifest.chain if manifest else None,
        created_at=manifest.created_at if manifest else None,
        signed_by=facts.get("signed_by"),
        key_source=facts.get("key_source"),
        files_checked=len(run.trusted),
        rows_checked=facts.get("rows_checked", 0),
        rows_proven=facts.get("rows_proven", 0),
        checkpoints_checked=facts.get("checkpoints_checked", 0),
        ingest_code=facts.get("ingest_code"),
        ingest_rerun_code=facts.get("ingest_rerun_code"),
        now_code=facts.get("now_code"),
        now_rerun_code=facts.get("now_rerun_code"),
    )
