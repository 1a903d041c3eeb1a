"""The mandate and issuer HTTP API on both databases, including the bad inputs."""

from __future__ import annotations

import base64
import json
import uuid

import jwt
import pytest
from sqlalchemy import func, select

from app.models import AuditLog, Mandate
from tests.mandates.minting import MintingIssuer

PROBLEM = "application/problem+json"


def key_of(world, role="customer_admin", tenant="a"):
    return getattr(world, tenant)[role].key()


async def register(client, headers, issuer: MintingIssuer) -> dict:
    response = await client.post(
        "/api/v1/issuers", json={"did": issuer.did, "jwks": issuer.jwks()}, headers=headers
    )
    assert response.status_code == 201, response.text
    return response.json()


async def count(database, model, *where) -> int:
    async with database.sessions() as session:
        return await session.scalar(select(func.count()).select_from(model).where(*where))


async def test_public_vectors_over_http(client, world, vectors):
    headers = key_of(world)
    for issuer in vectors.issuers:
        response = await client.post("/api/v1/issuers", json=issuer.body, headers=headers)
        assert response.status_code == 201, response.text
        assert response.json()["status"] == "active"
        if issuer.status != "active":
            response = await client.patch(
                f"/api/v1/issuers/{response.json()['id']}",
                json={"status": issuer.status},
                headers=headers,
            )
            assert response.status_code == 200, response.text
            assert response.json()["status"] == issuer.status
    ids = {}
    for case in vectors.cases:
        response = await client.post(
            "/api/v1/mandates", json={"vc_jwt": case.vc_jwt}, headers=headers
        )
        assert response.status_code in case.expect_status, (case.name, response.text)
        body = response.json()
        if response.status_code == 422:
            assert response.headers["content-type"] == PROBLEM
            assert body["code"] in case.codes, case.name
            continue
        assert body["verification_status"] in case.codes
        ids[case.name] = body["id"]
        if case.same_as:
            assert body["id"] == ids[case.same_as]
        for field, value in case.check_fields.items():
            assert body[field] == value, (case.name, field)
        assert "vc_jwt" not in body or body["vc_jwt"] is None


async def test_rejected_tokens_leave_only_an_audit_row(client, database, world):
    issuer = MintingIssuer()
    await register(client, key_of(world), issuer)
    public_pem = issuer.key.public_key().public_bytes(
        encoding=__import__("cryptography").hazmat.primitives.serialization.Encoding.PEM,
        format=__import__(
            "cryptography"
        ).hazmat.primitives.serialization.PublicFormat.SubjectPublicKeyInfo,
    )
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","kid":"k1"}').rstrip(b"=").decode()
    claims = jwt.decode(issuer.token(), options={"verify_signature": False})
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    import hashlib
    import hmac

    signature = (
        base64.urlsafe_b64encode(
            hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        )
        .rstrip(b"=")
        .decode()
    )
    token = issuer.token()
    head, body, sig = token.split(".")
    tampered = f"{head}.{body}.{sig[:-4]}{'AAAA' if sig[-4:] != 'AAAA' else 'BBBB'}"
    cases = {
        f"{header}.{payload}.{signature}": "ALG_NOT_ALLOWED",
        tampered: "SIG_INVALID",
        issuer.token(expires_in=-120): "EXPIRED",
        issuer.token(kid="nope"): "KEY_NOT_FOUND",
        MintingIssuer().token(): "ISSUER_UNKNOWN",
        "not.a.jwt": "INVALID_FORMAT",
        "eyJhbGciOiJub25lIn0.e30.": "ALG_NOT_ALLOWED",
        "a" * 70_000: "TOO_LARGE",
    }
    for token_value, code in cases.items():
        response = await client.post(
            "/api/v1/mandates", json={"vc_jwt": token_value}, headers=key_of(world)
        )
        assert response.status_code == 422, (code, response.text)
        assert response.json()["code"] == code
    assert await count(database, Mandate) == 0
    assert await count(database, AuditLog, AuditLog.action == "mandate.rejected") == len(cases)
    async with database.sessions() as session:
        details = (await session.scalars(select(AuditLog.details))).all()
    assert not any("not.a.jwt" in json.dumps(d) or tampered in json.dumps(d) for d in details)


async def test_another_tenants_issuer_and_ids(client, world):
    issuer = MintingIssuer()
    await register(client, key_of(world, tenant="b"), issuer)
    refused = await client.post(
        "/api/v1/mandates", json={"vc_jwt": issuer.token()}, headers=key_of(world)
    )
    assert refused.json()["code"] == "ISSUER_UNKNOWN"
    created = await client.post(
        "/api/v1/mandates", json={"vc_jwt": issuer.token()}, headers=key_of(world, tenant="b")
    )
    mandate_id = created.json()["id"]
    missing = await client.get(f"/api/v1/mandates/{uuid.uuid4()}", headers=key_of(world))
    foreign = await client.get(f"/api/v1/mandates/{mandate_id}", headers=key_of(world))
    assert foreign.status_code == missing.status_code == 404
    strip = lambda r: {k: v for k, v in r.json().items() if k not in ("instance", "request_id")}  # noqa: E731
    assert strip(foreign) == strip(missing)


@pytest.mark.parametrize(
    ("content", "content_type", "status", "code"),
    [
        (b"{not json", "application/json", 422, "invalid_json"),
        (b"[1, 2]", "application/json", 422, "validation_error"),
        (b'{"vc_jwt": 12}', "application/json", 422, "validation_error"),
        (b'{"vc_jwt": "a.b.c", "tenant_id": "x"}', "application/json", 422, "validation_error"),
        (b"vc_jwt=a.b.c", "application/x-www-form-urlencoded", 422, "validation_error"),
        (
            b'{"vc_jwt": "' + b"a" * (1024 * 1024) + b'"}',
            "application/json",
            413,
            "payload_too_large",
        ),
        (
            b'{"vc_jwt": "' + b"a" * (10 * 1024 * 1024) + b'"}',
            "application/json",
            413,
            "payload_too_large",
        ),
        (b'{"vc_jwt": "\\ud800.x.y"}', "application/json", 422, "validation_error"),
        (b'{"vc_jwt": "a.b.c"}\xff\xfe', "application/json", 415, "body_not_utf8"),
        (b'{"vc_jwt": "a\\u0000.b.c"}', "application/json", 422, "validation_error"),
        ('{"vc_jwt": "a.b.c"}'.encode("utf-16"), "application/json", 415, "body_not_utf8"),
        (b'{"vc_jwt": "a.b.c"}', "application/json; charset=utf-16", 415, "unsupported_charset"),
    ],
)
async def test_bad_bodies(client, database, world, content, content_type, status, code):
    headers = {**key_of(world), "content-type": content_type}
    response = await client.post("/api/v1/mandates", content=content, headers=headers)
    assert response.status_code == status, response.text[:300]
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["code"] == code
    assert await count(database, Mandate) == 0


async def test_idempotency_key(client, database, world):
    issuer = MintingIssuer()
    await register(client, key_of(world), issuer)
    token = issuer.token()
    headers = {**key_of(world), "Idempotency-Key": "order-7781"}
    first = await client.post("/api/v1/mandates", json={"vc_jwt": token}, headers=headers)
    again = await client.post("/api/v1/mandates", json={"vc_jwt": token}, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    other = await client.post("/api/v1/mandates", json={"vc_jwt": issuer.token()}, headers=headers)
    assert (other.status_code, other.json()["code"]) == (422, "idempotency_key_reused")
    bad = await client.post(
        "/api/v1/mandates",
        json={"vc_jwt": token},
        headers={**key_of(world), "Idempotency-Key": "x" * 300},
    )
    assert bad.json()["code"] == "invalid_idempotency_key"
    for key in ("", "x" * 5000, "tab\there", "caf\u00e9", "nul\u0000"):
        refused = await client.post(
            "/api/v1/mandates",
            json={"vc_jwt": token},
            headers=[*key_of(world).items(), ("Idempotency-Key", key.encode("latin-1"))],
        )
        assert (refused.status_code, refused.json()["code"]) == (422, "invalid_idempotency_key")
    # Keys are per tenant: tenant B may use the same key for its own request.
    issuer_b = MintingIssuer()
    await register(client, key_of(world, tenant="b"), issuer_b)
    b = await client.post(
        "/api/v1/mandates",
        json={"vc_jwt": issuer_b.token()},
        headers={**key_of(world, tenant="b"), "Idempotency-Key": "order-7781"},
    )
    assert b.status_code == 201
    assert await count(database, Mandate) == 2


async def test_batch(client, database, world):
    issuer = MintingIssuer()
    await register(client, key_of(world), issuer)
    token = issuer.token()
    items = [
        {"vc_jwt": token},
        {"vc_jwt": token},
        {"vc_jwt": "junk"},
        {"vc_jwt": issuer.token(expires_in=-100)},
    ]
    response = await client.post(
        "/api/v1/mandates/batch", json={"items": items}, headers=key_of(world)
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert [(i["index"], i["status"], i["code"]) for i in body["items"]] == [
        (0, 201, "VALID"),
        (1, 200, "VALID"),
        (2, 422, "INVALID_FORMAT"),
        (3, 422, "EXPIRED"),
    ]
    assert body["items"][0]["id"] == body["items"][1]["id"]
    assert body["summary"] == {"VALID": 2, "INVALID_FORMAT": 1, "EXPIRED": 1}
    too_many = await client.post(
        "/api/v1/mandates/batch", json={"items": [{"vc_jwt": "x"}] * 1001}, headers=key_of(world)
    )
    assert too_many.status_code == 422
    assert await count(database, Mandate) == 1


async def test_lifecycle_over_http(client, database, world):
    issuer = MintingIssuer()
    await register(client, key_of(world), issuer)
    headers = key_of(world, role="customer_user")
    created = (
        await client.post("/api/v1/mandates", json={"vc_jwt": issuer.token()}, headers=headers)
    ).json()
    path = f"/api/v1/mandates/{created['id']}"
    assert (await client.get(path, headers=headers)).json()["vc_jwt"] is None
    with_token = await client.get(path, params={"include": "token"}, headers=headers)
    assert with_token.json()["vc_jwt"].count(".") == 2
    assert await count(database, AuditLog, AuditLog.action == "mandate.token_read") == 1
    patched = await client.patch(
        path, json={"labels": {"team": "ops"}, "retention_days": 30}, headers=headers
    )
    assert (patched.json()["labels"], patched.json()["retention_days"]) == ({"team": "ops"}, 30)
    assert (await client.post(path + "/verify", headers=headers)).json()["code"] == "VALID"
    revoked = await client.post(path + "/revoke", json={"reason": "card lost"}, headers=headers)
    assert revoked.json()["status"] == "revoked"
    assert (await client.delete(path, headers=headers)).status_code == 204
    listed = await client.get("/api/v1/mandates", headers=headers)
    assert listed.json()["items"] == []
    restored = await client.post(path + "/restore", headers=headers)
    assert restored.json()["status"] == "revoked"
    again = await client.post(path + "/restore", headers=headers)
    assert (again.status_code, again.json()["code"]) == (409, "not_deleted")
    readonly = await client.post(
        path + "/revoke", json={"reason": "x"}, headers=key_of(world, role="readonly")
    )
    assert (readonly.status_code, readonly.json()["code"]) == (403, "permission_denied")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "-1"}, "limit"),
        ({"limit": "100000"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"status": "' OR 1=1 --"}, "status"),
        ({"expires_before": "yesterday"}, "expires_before"),
        ({"amount_min": "1e999"}, "amount_min"),
        ({"sort": "vc_jwt"}, "sort"),
        ({"nope": "1"}, "nope"),
        ({"issuer_did": "did:web:\x00"}, "issuer_did"),
    ],
)
async def test_bad_search_parameters_name_the_field(client, world, params, field):
    response = await client.get("/api/v1/mandates", params=params, headers=key_of(world))
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "validation_error"
    assert field in response.json()["detail"]


async def test_odd_but_harmless_search_values(client, world):
    for raw in (
        "issuer_did=%FF%FE",
        "issuer_did=did%3Aweb%3Ax'%20OR%20'1'%3D'1",
        "merchant=%C0%AF",
        "label=a:%FF",
    ):
        response = await client.get(f"/api/v1/mandates?{raw}", headers=key_of(world))
        assert response.status_code == 200, (raw, response.text)
        assert response.json() == {"items": [], "next_cursor": None, "prev_cursor": None}
    forged = await client.get(
        "/api/v1/mandates", params={"cursor": "eyJmb3JnZWQiOnRydWV9"}, headers=key_of(world)
    )
    assert (forged.status_code, forged.json()["code"]) == (422, "invalid_cursor")


async def test_global_issuers(client, world):
    issuer = MintingIssuer()
    admin = world.admin.key()
    created = await client.post(
        "/api/v1/issuers",
        json={"did": issuer.did, "jwks": issuer.jwks(), "global": True},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    assert created.json()["is_global"] is True
    tenant_user = key_of(world)
    stored = await client.post(
        "/api/v1/mandates", json={"vc_jwt": issuer.token()}, headers=tenant_user
    )
    assert stored.status_code == 201
    listed = await client.get("/api/v1/issuers", headers=tenant_user)
    assert issuer.did in [i["did"] for i in listed.json()]
    patch = await client.patch(
        f"/api/v1/issuers/{created.json()['id']}", json={"status": "revoked"}, headers=tenant_user
    )
    assert patch.status_code == 404
    forbidden = await client.post(
        "/api/v1/issuers",
        json={"did": "did:web:g2.example", "jwks": issuer.jwks(), "global": True},
        headers=tenant_user,
    )
    assert (forbidden.status_code, forbidden.json()["code"]) == (403, "platform_admin_only")
    revoked = await client.patch(
        f"/api/v1/issuers/{created.json()['id']}", json={"status": "revoked"}, headers=admin
    )
    assert revoked.json()["status"] == "revoked"
    refused = await client.post(
        "/api/v1/mandates", json={"vc_jwt": issuer.token()}, headers=tenant_user
    )
    assert refused.json()["code"] == "ISSUER_REVOKED"


@pytest.mark.parametrize(
    "body",
    [
        {"did": "not-a-did", "jwks": {"keys": []}},
        {"did": "did:web:x.example"},
        {"did": "did:web:x.example", "jwks": {"keys": [{"kty": "oct", "k": "AAAA"}]}},
        {"did": "did:web:x.example", "jwks": {"keys": "nope"}},
        {"did": "did:web:x.example", "jwks": {"keys": []}, "jwks_url": "https://x.example/j"},
        {"did": "did:key:zNotAKey"},
    ],
)
async def test_bad_issuers(client, world, body):
    response = await client.post("/api/v1/issuers", json=body, headers=key_of(world))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM


async def test_duplicate_issuer_is_a_conflict(client, world):
    issuer = MintingIssuer()
    await register(client, key_of(world), issuer)
    again = await client.post(
        "/api/v1/issuers", json={"did": issuer.did, "jwks": issuer.jwks()}, headers=key_of(world)
    )
    assert (again.status_code, again.json()["code"]) == (409, "issuer_exists")


# Values whose JSON text the database may spell its own way (spaces, key order, escapes,
# number forms): the API's answers embed the stored text, so they must still say the same.
AWKWARD_DETAILS = {
    "quote": 'say "hi"\\ /path',
    "control": "line\nbreak\ttab\u0001\u2028",
    "unicode": "café ☕ 𝄞",
    "numbers": [0, -1, 1.5, 2.25e-7, 9007199254740993, 12345678901234567890123],
    "nested": {"b": [{"c": None, "a": True}], "a": {}},
    "empty": [],
    "": "empty key",
}


async def test_answers_show_the_json_columns_as_stored(client, database, world):
    """GET one mandate and the search page embed the JSON columns' stored text; they
    must say what the model says of the same row (read through the ORM, as
    `?include=token` reads it)."""
    from tests.factories import new_mandate

    labels = {"team": "pay ☕", 'k"ey': "v\\al", "zz": "", "a": "1"}
    mandate = new_mandate(
        world.a["readonly"].tenant_id,
        merchants=["shop", "café ☕", 'o"dd'],
        labels=labels,
        details=AWKWARD_DETAILS,
    )
    async with database.sessions() as session:
        session.add(mandate)
        await session.commit()
    headers = key_of(world)
    path = f"/api/v1/mandates/{mandate.id}"
    shown = (await client.get(path, headers=headers)).json()
    through_model = (await client.get(path, params={"include": "token"}, headers=headers)).json()
    listed = (await client.get("/api/v1/mandates", params={"limit": 200}, headers=headers)).json()
    [in_list] = [item for item in listed["items"] if item["id"] == str(mandate.id)]

    assert through_model["vc_jwt"] == mandate.vc_jwt
    assert shown == in_list == {**through_model, "vc_jwt": None}
    assert shown["merchants"] == ["shop", "café ☕", 'o"dd']
    assert shown["labels"] == labels
    assert shown["details"] == AWKWARD_DETAILS
    assert shown["details"]["numbers"][-1] == 12345678901234567890123  # every digit kept
