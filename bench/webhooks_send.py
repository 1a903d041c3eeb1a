"""Webhook send path: attempts per second of one sender core against a local receiver.

The receiver (tests/webhooks/receiver.py, uvicorn, answers 204) runs in its own
process so it does not share the sender's core. Three paths are timed in
interleaved rounds, sequentially and with 16 attempts in flight:

- baseline: a bare `httpx.AsyncClient.post` of the same body (no checks, no signing)
- core: `attempt_delivery` with keys prepared once (URL check, pin, sign, send, excerpt)
- full: the same plus opening both sealed secrets of an endpoint in rotation (Fernet)

`--uvloop` runs the sender on uvloop (a dependency already, uvicorn's loop).
Figures are attempts per second of wall time and per second of sender CPU
(`time.process_time`), the latter being what one core can do when it is busy.
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.core.secretbox import SecretBox, new_key  # noqa: E402
from app.webhooks import (  # noqa: E402
    AttemptLimits,
    EventType,
    UrlPolicy,
    attempt_delivery,
    build_delivery_client,
    build_event,
    issue_secrets,
    rotate_secrets,
    signing_keys,
)
from app.webhooks.resolve import SystemResolver  # noqa: E402
from app.webhooks.signing import unix_now, webhook_headers  # noqa: E402
from app.webhooks.urls import _check_url, check_url  # noqa: E402
from tests.webhooks.samples import AT, SAMPLES  # noqa: E402

ATTEMPTS = 1500
ROUNDS = 3
POLICY = UrlPolicy(allow_http=True, allow_private_networks=True)
LIMITS = AttemptLimits(connect_timeout=5, total_timeout=15, excerpt_bytes=4096)


def start_receiver() -> tuple[subprocess.Popen[str], int]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.webhooks.receiver", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    return process, int(process.stdout.readline())


async def run(
    send: Callable[[], Awaitable[bool]], attempts: int, concurrency: int
) -> tuple[float, float]:
    """(attempts per wall second, attempts per CPU second) for `attempts` sends."""
    remaining = attempts

    async def lane() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            if not await send():
                raise RuntimeError("an attempt failed during the benchmark")

    wall, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(lane() for _ in range(concurrency)))
    return attempts / (time.perf_counter() - wall), attempts / (time.process_time() - cpu)


def micro(label: str, action: Callable[[], object], count: int = 20000) -> float:
    started = time.perf_counter()
    for _ in range(count):
        action()
    per_call = (time.perf_counter() - started) / count * 1e6
    print(f"  {label:<52} {per_call:7.1f} µs")
    return per_call


async def main() -> None:
    receiver, port = start_receiver()
    url = f"http://127.0.0.1:{port}/hook"
    event = build_event(EventType.MANDATE_CREATED, SAMPLES[EventType.MANDATE_CREATED], timestamp=AT)
    box = SecretBox([new_key()])
    now = datetime.now(UTC)
    stored = rotate_secrets(box, issue_secrets(box), now=now)  # two live secrets: the worst case
    keys = signing_keys(box, stored, now=now)
    resolver = SystemResolver()
    try:
        async with httpx.AsyncClient() as bare, build_delivery_client() as pinned:

            async def baseline() -> bool:
                response = await bare.post(url, content=event.body)
                return response.status_code == 204

            async def core() -> bool:
                result = await attempt_delivery(
                    pinned,
                    url=url,
                    message_id=event.message_id,
                    body=event.body,
                    keys=keys,
                    policy=POLICY,
                    resolver=resolver,
                    limits=LIMITS,
                )
                return result.succeeded

            async def full() -> bool:
                result = await attempt_delivery(
                    pinned,
                    url=url,
                    message_id=event.message_id,
                    body=event.body,
                    keys=signing_keys(box, stored, now=datetime.now(UTC)),
                    policy=POLICY,
                    resolver=resolver,
                    limits=LIMITS,
                )
                return result.succeeded

            paths = {"baseline": baseline, "core": core, "full": full}
            for send in paths.values():
                await run(send, 200, 4)  # warm up connections and lazy imports
            for concurrency in (1, 16):
                figures: dict[str, list[tuple[float, float]]] = {name: [] for name in paths}
                for _ in range(ROUNDS):
                    for name, send in paths.items():
                        figures[name].append(await run(send, ATTEMPTS, concurrency))
                base_wall = statistics.median(f[0] for f in figures["baseline"])
                base_cpu = statistics.median(f[1] for f in figures["baseline"])
                print(
                    f"concurrency {concurrency}, {ROUNDS} rounds of {ATTEMPTS} attempts (medians):"
                )
                for name, samples in figures.items():
                    wall = statistics.median(s[0] for s in samples)
                    cpu = statistics.median(s[1] for s in samples)
                    print(
                        f"  {name:<9} {wall:7.0f} /s wall ({wall / base_wall:4.2f}x)"
                        f"   {cpu:7.0f} /s per CPU second ({cpu / base_cpu:4.2f}x)"
                    )
    finally:
        receiver.terminate()
        receiver.wait(timeout=10)
    print("pieces of the send path, per call:")
    micro(
        "sign (two secrets, 3 headers)",
        lambda: webhook_headers(event.message_id, unix_now(), event.body, keys),
    )
    micro(
        "open two sealed secrets (Fernet) into signing keys",
        lambda: signing_keys(box, stored, now=now),
    )
    micro("check_url of a stored URL (cached, as at send time)", lambda: check_url(url, POLICY))
    micro("check_url of a new URL (uncached)", lambda: _check_url.__wrapped__(url, POLICY))


if __name__ == "__main__":
    if "--uvloop" in sys.argv:
        import uvloop

        print("event loop: uvloop")
        uvloop.run(main())
    else:
        print("event loop: asyncio")
        asyncio.run(main())
