"""Verifying many tokens at once: in a process pool when the batch pays for it.

The workers run the same engine (`verify_token`) on a pickled trust snapshot
(its keys travel as DER and are loaded once per worker, `app.keys.jwk`). Each
token sees only the issuers it names, exactly as a single ingest's snapshot
holds them, so a token verifies the same here as alone. The pool starts on the
first batch that needs it (forkserver workers, one a core) and is reused.

This module imports only the engine, so a worker starts in well under a second.
"""

from __future__ import annotations

import asyncio
import gc
import math
import multiprocessing
import multiprocessing.connection
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime
from typing import Any

from app.keys import TrustedIssuer, TrustSnapshot
from app.mandates.verification import VerificationResult, verify_token

# Below this many tokens the pool's round trip costs more than it saves.
POOL_MIN_TOKENS = 200
CHUNK_TOKENS = 500


class _Named:
    """The trust store one token sees: the snapshot's issuers that it names."""

    __slots__ = ("_dids", "_trust")

    def __init__(self, trust: TrustSnapshot, dids: frozenset[str]) -> None:
        self._trust = trust
        self._dids = dids

    def get(self, did: str, /) -> TrustedIssuer | None:
        return self._trust.get(did) if did in self._dids else None


def verify_many(
    tokens: Sequence[str],
    names: Sequence[frozenset[str]],
    trust: TrustSnapshot,
    now: datetime,
    leeway_seconds: float,
    max_bytes: int,
) -> list[VerificationResult]:
    """Each token against the issuers it names (`names[i]`) in `trust`."""
    return [
        verify_token(
            token,
            _Named(trust, dids),
            now=now,
            leeway_seconds=leeway_seconds,
            max_bytes=max_bytes,
        )
        for token, dids in zip(tokens, names, strict=True)
    ]


def _worker_started() -> None:
    """In a worker: exit when the process that started the pool dies, however it dies
    (its workers would otherwise wait for work forever)."""
    gc.freeze()  # what the worker imported is never garbage: keep it out of collections
    parent = multiprocessing.parent_process()
    if parent is None or parent.sentinel is None:  # pragma: no cover - not a child
        return
    sentinel = parent.sentinel

    def watch() -> None:
        multiprocessing.connection.wait([sentinel])
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


class VerifierPool:
    """A lazily started pool of verification processes."""

    def __init__(
        self,
        workers: int | None = None,
        chunk: int = CHUNK_TOKENS,
        min_tokens: int = POOL_MIN_TOKENS,
    ) -> None:
        self.workers = workers or _cores()
        self.chunk = chunk
        self.min_tokens = min_tokens
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def _pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                context = multiprocessing.get_context("forkserver")
                # Workers fork from a server that has imported the engine already.
                context.set_forkserver_preload([__name__])
                self._executor = ProcessPoolExecutor(
                    self.workers, mp_context=context, initializer=_worker_started
                )
            return self._executor

    @property
    def started(self) -> bool:
        return self._executor is not None

    def warm(self) -> None:
        """Start the workers in the background (a command about to verify many tokens)."""
        pool = self._pool()
        for _ in range(self.workers):
            pool.submit(os.getpid)

    def start(self) -> list[int]:
        """Start every worker now; their process ids (benchmarks read their CPU time)."""
        pool = self._pool()
        for done in [pool.submit(os.getpid) for _ in range(self.workers)]:
            done.result()
        return sorted(pool._processes)

    async def verify(
        self,
        tokens: Sequence[str],
        names: Sequence[frozenset[str]],
        trust: TrustSnapshot,
        now: datetime,
        leeway_seconds: float,
        max_bytes: int,
    ) -> list[VerificationResult]:
        """`verify_many` in the pool, in chunks spread over the workers; inline when small."""
        if len(tokens) < self.min_tokens:
            return verify_many(tokens, names, trust, now, leeway_seconds, max_bytes)
        size = min(self.chunk, math.ceil(len(tokens) / self.workers))
        loop = asyncio.get_running_loop()
        try:
            pool = self._pool()
            parts: list[Any] = [
                loop.run_in_executor(
                    pool,
                    verify_many,
                    tokens[start : start + size],
                    names[start : start + size],
                    trust,
                    now,
                    leeway_seconds,
                    max_bytes,
                )
                for start in range(0, len(tokens), size)
            ]
            chunks = await asyncio.gather(*parts)
        except BrokenProcessPool:
            # A worker died (killed, out of memory): start afresh next time, verify here now.
            self.close()
            return verify_many(tokens, names, trust, now, leeway_seconds, max_bytes)
        return [result for chunk in chunks for result in chunk]

    def close(self) -> None:
        """Stop the workers (a later batch starts new ones)."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)


_SHARED = VerifierPool()


def shared_pool() -> VerifierPool:
    """The process's pool (servers and commands share one)."""
    return _SHARED
