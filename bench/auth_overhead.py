"""Authenticated-request overhead on the API-key path, warm.

Runs the real app under uvicorn and alternates batches of requests to
`/healthz` (no auth) and `/api/v1/auth/me` (API key, resolved from the
in-process cache) over one keep-alive connection; the overhead is the
difference of the medians. Usage: python bench/auth_overhead.py [N]
"""

from __future__ import annotations

import statistics
import sys
import time

import httpx
from _server import cli, server

N = int(sys.argv[1]) if len(sys.argv) > 1 else 4000


def timed(client: httpx.Client, path: str, headers: dict, n: int) -> list[float]:
    out = []
    for _ in range(n):
        started = time.perf_counter()
        response = client.get(path, headers=headers)
        out.append(time.perf_counter() - started)
        assert response.status_code == 200, response.text
    return out


def main() -> None:
    with server() as (base, env):
        tenant = cli(env, "tenants", "create", "Bench").strip()
        key = (
            cli(env, "api-keys", "create", "--tenant", tenant, "--role", "readonly", "--name", "b")
            .strip()
            .splitlines()[-1]
        )
        with httpx.Client(base_url=base) as client:
            timed(client, "/healthz", {}, 500)
            timed(client, "/api/v1/auth/me", {"X-API-Key": key}, 500)
            plain, authed = [], []
            for _ in range(10):
                plain += timed(client, "/healthz", {}, N // 10)
                authed += timed(client, "/api/v1/auth/me", {"X-API-Key": key}, N // 10)
    p = statistics.median(plain) * 1000
    a = statistics.median(authed) * 1000
    print(f"requests per side: {len(plain)}")
    print(
        f"unauthenticated /healthz      median {p:.3f} ms  p95 {statistics.quantiles(plain, n=20)[18] * 1000:.3f} ms"
    )
    print(
        f"API key /api/v1/auth/me       median {a:.3f} ms  p95 {statistics.quantiles(authed, n=20)[18] * 1000:.3f} ms"
    )
    print(f"authentication overhead       {a - p:.3f} ms per request (budget 0.3 ms)")


if __name__ == "__main__":
    main()
