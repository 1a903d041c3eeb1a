"""Engine verifications/s vs a bare `cryptography` verify of the same signature, per alg.

Run: .venv/bin/python bench/verify_engine.py [--rounds 6] [--seconds 0.5]
Pins itself to one core (where the OS allows) and prints one line per algorithm.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.keys import TrustedIssuer, TrustSnapshot, b64url_decode, prepare_public_key
from app.mandates.verification import verify_token

NOW = 1_800_000_000


def _claims(did: str) -> dict:
    return {
        "iss": did,
        "sub": "did:example:agent-1",
        "iat": NOW - 60,
        "exp": NOW + 3600,
        "jti": uuid.uuid4().hex,
        "vc": {
            "@context": ["https://www.w3.org/2018/credentials/v1"],
            "type": ["VerifiableCredential", "Mandate"],
            "credentialSubject": {
                "id": "did:example:agent-1",
                "scope": "payments:recurring",
                "amount_limit": "500.00",
                "currency": "USD",
            },
        },
    }


def _rate(fn, seconds: float) -> float:
    """Calls per second of `fn`, measured in batches until `seconds` have passed."""
    for _ in range(200):
        fn()
    calls = 0
    batch = 500
    start = time.perf_counter()
    while True:
        for _ in range(batch):
            fn()
        calls += batch
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return calls / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=0.5, help="length of one round")
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

    cases = []
    es_key = ec.generate_private_key(ec.SECP256R1())
    rs_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ed_key = ed25519.Ed25519PrivateKey.generate()
    for alg, private in (("ES256", es_key), ("RS256", rs_key), ("EdDSA", ed_key)):
        did = f"did:web:{alg.lower()}.bench.example"
        token = jwt.encode(_claims(did), private, algorithm=alg, headers={"kid": "k1"})
        public = private.public_key()
        issuer = TrustedIssuer(did, "active", (prepare_public_key(public, kid="k1"),))
        trust = TrustSnapshot([issuer])
        head, payload, sig_b64 = token.split(".")
        data = f"{head}.{payload}".encode()
        sig = b64url_decode(sig_b64)
        if alg == "ES256":
            der = encode_dss_signature(
                int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
            )
            scheme = ec.ECDSA(hashes.SHA256())

            def bare(public=public, der=der, data=data, scheme=scheme) -> None:
                public.verify(der, data, scheme)
        elif alg == "RS256":
            pad, sha = padding.PKCS1v15(), hashes.SHA256()

            def bare(public=public, sig=sig, data=data, pad=pad, sha=sha) -> None:
                public.verify(sig, data, pad, sha)
        else:

            def bare(public=public, sig=sig, data=data) -> None:
                public.verify(sig, data)

        result = verify_token(token, trust, now=NOW)
        assert result.ok, result
        cases.append((alg, token, trust, bare))

    out = sys.stdout
    out.write(
        f"nproc={os.cpu_count()} loadavg={tuple(round(x, 2) for x in os.getloadavg())} "
        f"rounds={args.rounds} x {args.seconds}s, best round of each\n"
    )
    out.write(f"{'alg':6} {'bare/s':>10} {'engine/s':>10} {'ratio':>6}\n")
    for alg, token, trust, bare in cases:

        def engine(token=token, trust=trust) -> None:
            verify_token(token, trust, now=NOW)

        # Interleave the two so that load from other processes hits both alike.
        bare_rate = engine_rate = 0.0
        for _ in range(args.rounds):
            bare_rate = max(bare_rate, _rate(bare, args.seconds))
            engine_rate = max(engine_rate, _rate(engine, args.seconds))
        out.write(f"{alg:6} {bare_rate:10.0f} {engine_rate:10.0f} {engine_rate / bare_rate:6.2f}\n")


if __name__ == "__main__":
    main()
