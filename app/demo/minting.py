"""Issuer keys and signed mandates for trying the vault: `mandate-vault demo keygen`
and `mandate-vault demo mint` (generic, Intent, Cart and Payment mandates).

The tokens are real ES256 compact JWS credentials in the shape the engine checks
(`app/mandates/verification/content.py`); a Cart mandate carries a merchant
authorization signed by a second key over the cart's `cart_hash`. No network, no
database: what is made here is submitted through the API like any other token.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import jwt
import rfc8785
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

ALG = "ES256"
KINDS = ("generic", "intent", "cart", "payment")
DEFAULT_SUBJECT = "did:example:shopping-agent-1"


class MintError(ValueError):
    """A key file or an option that cannot be used; `str()` says which."""


@dataclass(frozen=True, slots=True)
class IssuerKey:
    did: str
    kid: str
    private_jwk: dict[str, Any]

    @property
    def public_jwk(self) -> dict[str, Any]:
        return {k: v for k, v in self.private_jwk.items() if k != "d"}

    def signing_key(self) -> Any:
        return ECAlgorithm.from_jwk(json.dumps(self.private_jwk))

    def registration(self, name: str | None) -> dict[str, Any]:
        """The body of `POST /api/v1/issuers` that trusts this key."""
        body: dict[str, Any] = {"did": self.did, "jwks": {"keys": [self.public_jwk]}}
        if name:
            body["name"] = name
        return body


def new_key(did: str, kid: str) -> IssuerKey:
    jwk = json.loads(ECAlgorithm.to_jwk(ec.generate_private_key(ec.SECP256R1())))
    return IssuerKey(did, kid, {**jwk, "kid": kid, "alg": ALG, "use": "sig"})


def save_key(key: IssuerKey, path: Path, *, overwrite: bool = False) -> None:
    """Write the private key file (mode 600); refuse to replace one unless told."""
    if path.exists() and not overwrite:
        raise MintError(f"{path} exists; pass --force to replace it")
    content = json.dumps({"did": key.did, "kid": key.kid, "jwk": key.private_jwk}, indent=2)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(content + "\n")


def load_key(path: Path) -> IssuerKey:
    try:
        data = json.loads(path.read_text())
        key = IssuerKey(str(data["did"]), str(data["kid"]), dict(data["jwk"]))
        key.signing_key()
    except FileNotFoundError:
        raise MintError(
            f"{path}: no such key file (make one with `mandate-vault demo keygen`)"
        ) from None
    except (ValueError, KeyError, TypeError, jwt.exceptions.InvalidKeyError):
        raise MintError(f"{path} is not a key file made by `mandate-vault demo keygen`") from None
    return key


def _amount(value: str) -> str:
    try:
        parsed = Decimal(value)
    except InvalidOperation:
        raise MintError(
            f"--amount must be a decimal number such as 250.00, not {value!r}"
        ) from None
    if not parsed.is_finite() or parsed <= 0:
        raise MintError("--amount must be positive")
    return f"{parsed:.2f}"


def cart_hash(contents: dict[str, Any]) -> str:
    digest = hashlib.sha256(rfc8785.dumps(contents)).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass(frozen=True, slots=True)
class MintOptions:
    kind: str
    subject: str = DEFAULT_SUBJECT
    days: int = 30
    amount: str = "250.00"
    currency: str = "USD"
    scope: str = "groceries"
    merchants: tuple[str, ...] = ()
    description: str = "Running shoes, size 42, under 150 USD"


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _subject(options: MintOptions, now: datetime, merchant: IssuerKey | None) -> dict[str, Any]:
    amount, currency = _amount(options.amount), options.currency.upper()
    until = now + timedelta(days=options.days)
    if options.kind == "generic":
        subject: dict[str, Any] = {"scope": options.scope, "amount_limit": amount}
        subject["currency"] = currency
        if options.merchants:
            subject["merchants"] = list(options.merchants)
        return subject
    if options.kind == "intent":
        return {
            "natural_language_description": options.description,
            "intent_expiry": _iso(until),
            "amount_limit": amount,
            "currency": currency,
            "merchants": list(options.merchants),
            "user_cart_confirmation_required": True,
        }
    if options.kind == "cart":
        if merchant is None:
            raise MintError("a cart mandate needs --merchant-key (the merchant signs the cart)")
        total = {"label": "Total", "amount": {"currency": currency, "value": amount}}
        contents = {
            "id": f"cart-{uuid.uuid4().hex[:8]}",
            "merchant_name": merchant.did,
            "user_cart_confirmation_required": True,
            "cart_expiry": _iso(until),
            "payment_request": {
                "method_data": [{"supported_methods": "CARD"}],
                "details": {"id": f"order-{uuid.uuid4().hex[:8]}", "total": total},
            },
        }
        authorization = jwt.encode(
            {
                "iss": merchant.did,
                "sub": merchant.did,
                "iat": int(now.timestamp()),
                "exp": int(until.timestamp()),
                "jti": str(uuid.uuid4()),
                "cart_hash": cart_hash(contents),
            },
            merchant.signing_key(),
            algorithm=ALG,
            headers={"kid": merchant.kid},
        )
        return {"contents": contents, "merchant_authorization": authorization}
    merchant_agent = options.merchants[0] if options.merchants else "shop.example"
    return {
        "payment_mandate_contents": {
            "payment_mandate_id": f"pm-{uuid.uuid4().hex[:8]}",
            "payment_details_id": f"order-{uuid.uuid4().hex[:8]}",
            "payment_details_total": {
                "label": "Total",
                "amount": {"currency": currency, "value": amount},
            },
            "payment_response": {"method_name": "CARD"},
            "merchant_agent": merchant_agent,
            "timestamp": _iso(now),
        }
    }


VC_TYPES = {
    "generic": "Mandate",
    "intent": "IntentMandate",
    "cart": "CartMandate",
    "payment": "PaymentMandate",
}


def mint(
    key: IssuerKey,
    options: MintOptions,
    *,
    merchant: IssuerKey | None = None,
    now: datetime | None = None,
) -> str:
    """A signed mandate of `options.kind`, issued by `key` to `options.subject`."""
    if options.kind not in KINDS:
        raise MintError(f"unknown kind {options.kind!r} (one of {', '.join(KINDS)})")
    if not 1 <= options.days <= 3650:
        raise MintError("--days must be between 1 and 3650")
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    claims = {
        "iss": key.did,
        "sub": options.subject,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(days=options.days)).timestamp()),
        "jti": str(uuid.uuid4()),
        "vc": {
            "@context": ["https://www.w3.org/ns/credentials/v2"],
            "type": ["VerifiableCredential", VC_TYPES[options.kind]],
            "credentialSubject": {"id": options.subject, **_subject(options, now, merchant)},
        },
    }
    return jwt.encode(
        claims, key.signing_key(), algorithm=ALG, headers={"kid": key.kid, "typ": "vc+jwt"}
    )
