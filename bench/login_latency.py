"""Login latency: POST /api/v1/auth/login against the real app under uvicorn.

Sequential logins of one user (argon2id verify + a refresh-token insert);
reports p50/p95/p99. Usage: python bench/login_latency.py [N]
"""

from __future__ import annotations

import statistics
import sys
import time

import httpx
from _server import cli, server

N = int(sys.argv[1]) if len(sys.argv) > 1 else 200
PASSWORD = "Velvet-Harbour-Lantern-42"


def main() -> None:
    with server() as (base, env):
        tenant = cli(env, "tenants", "create", "Bench").strip()
        cli(
            env,
            "users",
            "create-admin",
            "--email",
            "bench@b.example",
            "--tenant",
            tenant,
            "--password-stdin",
            stdin=PASSWORD,
        )
        body = {"email": "bench@b.example", "password": PASSWORD}
        times = []
        with httpx.Client(base_url=base) as client:
            for _ in range(10):
                client.post("/api/v1/auth/login", json=body)
            for _ in range(N):
                started = time.perf_counter()
                response = client.post("/api/v1/auth/login", json=body)
                times.append(time.perf_counter() - started)
                assert response.status_code == 200, response.text
            wrong = []
            for _ in range(20):
                started = time.perf_counter()
                client.post(
                    "/api/v1/auth/login", json={"email": "ghost@b.example", "password": PASSWORD}
                )
                wrong.append(time.perf_counter() - started)
    q = statistics.quantiles(times, n=100)
    print(f"logins: {N}")
    print(
        f"p50 {q[49] * 1000:.1f} ms  p95 {q[94] * 1000:.1f} ms  p99 {q[98] * 1000:.1f} ms  (budget p95 150 ms)"
    )
    print(
        f"unknown email median {statistics.median(wrong) * 1000:.1f} ms (same work, no enumeration by time)"
    )


if __name__ == "__main__":
    main()
