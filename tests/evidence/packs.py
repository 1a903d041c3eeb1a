"""Evidence packs for the tests: a real mandate, a sealed chain, signed checkpoints."""

from __future__ import annotations

import hashlib
import io
import uuid
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from app.audit.chain import AuditRow, ChainHead, chain_id_for
from app.audit.checkpoint import build_checkpoint, sign_checkpoint
from app.evidence import (
    IssuerKeys,
    PackContents,
    PackFile,
    ProvenRow,
    VerificationRecord,
    build_pack,
    layout,
    prove_rows,
    trust_snapshot,
)
from app.evidence.documents import dump_json, load_json
from app.evidence.zipio import write_zip
from app.mandates.verification import verify_token
from app.signing import Keyring, generate_signing_key
from tests.audit.chains import entry, seal
from tests.verification.helpers import (
    NOW,
    cart_contents,
    compute_cart_hash,
    generic_claims,
    mint,
    public_jwk,
    subject_claims,
)

ISSUER = "did:web:bank.example"
MERCHANT = "did:web:shop.example"
INGESTED = datetime.fromtimestamp(NOW, UTC)
LATER = INGESTED + timedelta(hours=1)


@dataclass
class Pack:
    data: bytes
    keyring: Keyring
    contents: PackContents
    issuer_keys: dict[str, Any] = field(default_factory=dict)

    @property
    def jwks(self) -> dict[str, Any]:
        return self.keyring.public_jwks()

    def members(self) -> dict[str, bytes]:
        with zipfile.ZipFile(io.BytesIO(self.data)) as archive:
            return {info.filename: archive.read(info) for info in archive.infolist()}


def _issuer_jwks(private: Any, kid: str) -> dict[str, Any]:
    return {"keys": [public_jwk(private, kid)]}


def _record(token: str, issuers: tuple[IssuerKeys, ...], at: datetime) -> VerificationRecord:
    return VerificationRecord(verify_token(token, trust_snapshot(issuers), now=at), at, issuers)


def mandate_rows(
    chain_id: str, mandate_id: str, events: int, *, batch: int = 8, spread: bool = False
) -> list[AuditRow]:
    """A chain holding `events` rows about the mandate among others', in whole batches.

    Every third row is another mandate's; with `spread`, each event opens a batch of
    its own instead (the worst case for a pack: one checkpoint and proof per event).
    """
    entries: list[AuditRow] = []
    mine, index = 0, 0
    while mine < events or len(entries) % batch:
        if spread:
            about_it = mine < events and len(entries) % batch == 0
        else:
            about_it = mine < events and index % 3 != 0
        mine += about_it
        name = mandate_id if about_it else f"other-{index}"
        entries.append(entry(chain_id, index, resource_id=name))
        index += 1
    rows, _head = seal(entries, ChainHead.genesis(chain_id))
    return rows


def prove_mandate_rows(
    rows: list[AuditRow], mandate_id: str, keyring: Keyring, batch: int
) -> tuple[list[ProvenRow], list[str]]:
    proven: list[ProvenRow] = []
    checkpoints: list[str] = []
    for start in range(0, len(rows), batch):
        chunk = rows[start : start + batch]
        checkpoint = build_checkpoint(
            chunk[0].chain_id, chunk[0].seq, [r.row_hash for r in chunk], LATER
        )
        mine = [r for r in chunk if r.resource_id == mandate_id]
        if mine:
            proven.extend(prove_rows(mine, checkpoint, [r.row_hash for r in chunk]))
            checkpoints.append(sign_checkpoint(checkpoint, keyring))
    return proven, checkpoints


def make_pack(
    *,
    cart: bool = False,
    events: int = 20,
    batch: int = 8,
    spread: bool = False,
    keyring: Keyring | None = None,
    extra_files: tuple[PackFile, ...] = (),
) -> Pack:
    """A mandate ingested under issuer key k1, verified again after k1 was rotated away."""
    keyring = keyring or Keyring.of(generate_signing_key())
    old_key = ec.generate_private_key(ec.SECP256R1())
    new_key = ec.generate_private_key(ec.SECP256R1())
    merchant_key = ec.generate_private_key(ec.SECP256R1())
    if cart:
        contents = cart_contents()
        authorization = mint(
            {
                "iss": MERCHANT,
                "sub": "did:example:agent-1",
                "iat": NOW - 60,
                "exp": NOW + 3600,
                "jti": "auth-1",
                "cart_hash": compute_cart_hash(contents),
            },
            merchant_key,
            "ES256",
        )
        claims = subject_claims(
            ISSUER, "CartMandate", {"contents": contents, "merchant_authorization": authorization}
        )
    else:
        claims = generic_claims(ISSUER)
    token = mint(claims, old_key, "ES256", kid="k1")
    merchant = IssuerKeys(MERCHANT, "active", _issuer_jwks(merchant_key, "k1"))
    at_ingest = (IssuerKeys(ISSUER, "active", _issuer_jwks(old_key, "k1")), merchant)
    now = (IssuerKeys(ISSUER, "active", _issuer_jwks(new_key, "k2")), merchant)
    tenant = uuid.uuid4()
    mandate_id = str(uuid.uuid4())
    rows = mandate_rows(chain_id_for(tenant), mandate_id, events, batch=batch, spread=spread)
    proven, checkpoints = prove_mandate_rows(rows, mandate_id, keyring, batch)
    contents_ = PackContents(
        mandate_id=mandate_id,
        tenant_id=str(tenant),
        token=token,
        at_ingest=_record(token, at_ingest, INGESTED),
        now=_record(token, now, LATER),
        rows=proven,
        checkpoints=checkpoints,
        extra_files=extra_files,
    )
    data = build_pack(contents_, keyring, created_at=LATER)
    return Pack(data, keyring, contents_)


def repack(pack: Pack, changes: dict[str, bytes | None], *, resign: Keyring | None = None) -> bytes:
    """The pack with files changed (None removes one); with `resign`, a fresh signed manifest,
    as the vault itself would have produced it."""
    members = pack.members()
    for name, data in changes.items():
        if data is None:
            members.pop(name, None)
        else:
            members[name] = data
    if resign is not None:
        manifest = load_json(members[layout.MANIFEST])
        manifest["files"] = [
            {
                "path": path,
                "sha256": hashlib.sha256(data).hexdigest(),
                "size": len(data),
                "media_type": layout.media_type(path),
            }
            for path, data in sorted(members.items())
            if path not in (layout.MANIFEST, layout.MANIFEST_JWS)
        ]
        members[layout.MANIFEST] = dump_json(manifest)
        members[layout.MANIFEST_JWS] = resign.sign(
            members[layout.MANIFEST], typ=layout.MANIFEST_TYP
        ).encode()
    return write_zip(list(members.items()))
