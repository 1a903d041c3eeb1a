"""Building an evidence pack: the artifacts in, signed ZIP bytes out.

The caller (the evidence service) gathers what the database knows: the token,
the verification now and as of ingest with the issuer keys each used, the
mandate's sealed audit rows with inclusion proofs (`prove_rows`) and the
checkpoints those proofs name. `build_pack` writes every document, lists each
file with its SHA-256 and size in manifest.json, and signs that manifest with
the vault key (manifest.jws). docs/evidence-pack.md is the format.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.audit.chain import SealedEntry, chain_id_for, format_time
from app.audit.checkpoint import Checkpoint
from app.audit.merkle import inclusion_proof
from app.evidence import layout
from app.evidence.documents import (
    ProvenRow,
    cart_artifacts,
    checkpoints_document,
    dump_json,
    issuer_keys_document,
    rows_document,
    verification_document,
)
from app.evidence.issuers import IssuerKeys
from app.evidence.zipio import safe_name, write_zip
from app.mandates.verification import VerificationResult
from app.signing import Keyring


@dataclass(frozen=True, slots=True)
class VerificationRecord:
    """A verification result, the moment it holds for, and the issuer keys it used."""

    result: VerificationResult
    as_of: datetime
    issuers: tuple[IssuerKeys, ...]


@dataclass(frozen=True, slots=True)
class PackFile:
    """A further file for the pack (e.g. AP2 artifacts under ap2/)."""

    path: str
    data: bytes


@dataclass(frozen=True, slots=True)
class PackContents:
    mandate_id: str
    tenant_id: str | None
    token: str
    at_ingest: VerificationRecord
    now: VerificationRecord
    rows: Sequence[ProvenRow]
    checkpoints: Sequence[str]  # JWS of every checkpoint a row's proof names
    extra_files: Sequence[PackFile] = ()


def prove_rows(
    rows: Sequence[SealedEntry], checkpoint: Checkpoint, batch_hashes: Sequence[str]
) -> list[ProvenRow]:
    """Inclusion proofs for `rows` under `checkpoint`, from its batch's row hashes in seq order.

    ValueError when the batch does not fill the checkpoint or a row lies outside it.
    """
    if len(batch_hashes) != checkpoint.size:
        raise ValueError(
            f"checkpoint {checkpoint.seq} covers {checkpoint.size} rows; {len(batch_hashes)} given"
        )
    leaves = [bytes.fromhex(h) for h in batch_hashes]
    proven = []
    for row in rows:
        index = row.seq - checkpoint.first_seq
        if not 0 <= index < checkpoint.size:
            raise ValueError(f"row {row.seq} is not under checkpoint {checkpoint.seq}")
        proven.append(
            ProvenRow(
                row=row,
                checkpoint_seq=checkpoint.seq,
                leaf_index=index,
                tree_size=checkpoint.size,
                proof=tuple(inclusion_proof(leaves, index)),
            )
        )
    return proven


def _files(contents: PackContents) -> dict[str, bytes]:
    chain = chain_id_for(contents.tenant_id)
    files = {
        layout.TOKEN: contents.token.encode("utf-8"),
        layout.VERIFICATION_AT_INGEST: dump_json(
            verification_document(contents.at_ingest.result, contents.at_ingest.as_of)
        ),
        layout.VERIFICATION_NOW: dump_json(
            verification_document(contents.now.result, contents.now.as_of)
        ),
        layout.ISSUER_KEYS_AT_INGEST: dump_json(
            issuer_keys_document(contents.at_ingest.as_of, contents.at_ingest.issuers)
        ),
        layout.ISSUER_KEYS_NOW: dump_json(
            issuer_keys_document(contents.now.as_of, contents.now.issuers)
        ),
        layout.AUDIT_ROWS: dump_json(rows_document(chain, contents.rows)),
        layout.AUDIT_CHECKPOINTS: dump_json(checkpoints_document(contents.checkpoints)),
    }
    cart = cart_artifacts(contents.token)
    if cart is not None:
        files[layout.CART_CONTENTS] = dump_json(cart[0])
        files[layout.MERCHANT_AUTHORIZATION] = cart[1].encode("ascii")
    for extra in contents.extra_files:
        if (
            not safe_name(extra.path)
            or extra.path in files
            or extra.path
            in (
                layout.MANIFEST,
                layout.MANIFEST_JWS,
                layout.VAULT_JWKS,
            )
        ):
            raise ValueError(f"cannot add {extra.path!r} to a pack")
        files[extra.path] = bytes(extra.data)
    return files


def manifest_document(
    contents: PackContents, files: dict[str, bytes], created_at: datetime
) -> dict[str, Any]:
    return {
        "format": layout.FORMAT,
        "version": layout.VERSION,
        "mandate_id": contents.mandate_id,
        "tenant_id": None if contents.tenant_id is None else chain_id_for(contents.tenant_id),
        "chain": chain_id_for(contents.tenant_id),
        "created_at": format_time(created_at),
        "files": [
            {
                "path": path,
                "sha256": hashlib.sha256(data).hexdigest(),
                "size": len(data),
                "media_type": layout.media_type(path),
            }
            for path, data in sorted(files.items())
        ],
    }


def build_pack(contents: PackContents, keyring: Keyring, *, created_at: datetime) -> bytes:
    """The evidence pack as ZIP bytes, its manifest signed with the keyring's current key.

    Raises ValueError for an extra file that would shadow a pack file, and
    UnhashableRow for an audit row with no canonical form (edited in the database).
    """
    files = _files(contents)
    files[layout.VAULT_JWKS] = dump_json(keyring.public_jwks())
    manifest = dump_json(manifest_document(contents, files, created_at))
    signature = keyring.sign(manifest, typ=layout.MANIFEST_TYP)
    members = [
        (layout.MANIFEST, manifest),
        (layout.MANIFEST_JWS, signature.encode("ascii")),
        *sorted(files.items()),
    ]
    return write_zip(members)
