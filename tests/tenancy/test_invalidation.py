"""The auth cache's bounds: cleared on commit, told to the other processes through
Redis pub/sub, the TTL when Redis is away. (Two real server processes:
tests/drills/test_multiprocess.py.)"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as redis
from sqlalchemy import text

from app.tenancy import invalidation
from app.tenancy.cache import AuthCache
from tests.conftest import make_settings
from tests.tcp_proxy import TcpProxy

REDIS_DB = "redis://127.0.0.1:6379/5"


def test_a_lookup_in_flight_while_the_cache_is_cleared_is_not_kept():
    cache = AuthCache(30)
    assert cache.get("k:1") is None  # a lookup starts: it reads the database...
    cache.forget()  # ...a change is heard meanwhile...
    cache.put("k:1", "old answer")  # ...so what it read may be from before the change
    assert cache.get("k:1") is None
    cache.put("k:1", "fresh answer")  # the lookup that missed just now
    assert cache.get("k:1") == "fresh answer"
    cache.put("k:2", "never looked up")
    assert cache.get("k:2") is None


def test_without_a_session_the_change_is_told_at_once():
    told: list[str] = []
    cache = AuthCache(30)
    cache.broadcast = lambda: told.append("changed")
    cache.get("k:1")
    cache.put("k:1", "x")
    cache.clear()
    assert (cache.get("k:1"), told) == (None, ["changed"])


async def test_a_change_is_told_when_it_commits_and_not_when_it_rolls_back(database):
    told: list[str] = []
    cache = AuthCache(30)
    cache.broadcast = lambda: told.append("changed")
    async with database.sessions() as session:
        async with session.begin():
            await session.execute(text("SELECT 1"))
            cache.clear(session)
            assert told == []  # not yet: the others would read the old rows again
            cache.get("k:1")  # a request of this process reads the old rows meanwhile
            cache.put("k:1", "old")
        assert told == ["changed"]
        assert cache.get("k:1") is None  # cleared again at the commit
    async with database.sessions() as session:
        await session.execute(text("SELECT 1"))
        cache.clear(session)
        await session.rollback()
    assert told == ["changed"]


@pytest.fixture
async def redis_settings() -> AsyncIterator[dict[str, str]]:
    client = redis.from_url(REDIS_DB)
    try:
        await client.ping()
    except Exception as error:
        pytest.fail(f"no Redis at {REDIS_DB}: {error!r}")
    prefix = f"mvt:{uuid.uuid4().hex[:12]}:"
    yield {"redis_url": REDIS_DB, "redis_prefix": prefix}
    async for key in client.scan_iter(match=f"{prefix}*"):
        await client.delete(key)
    await client.aclose()


def _settings(**values: str):
    return make_settings("sqlite+aiosqlite:///unused.db", **values)


async def _until(condition, seconds: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.01)


def _cached(cache: AuthCache, key: str = "k:1") -> None:
    assert cache.get(key) is None
    cache.put(key, "principal")
    assert cache.get(key) == "principal"


async def test_a_change_in_one_process_clears_the_other_through_redis(redis_settings):
    settings = _settings(**redis_settings)
    one, two = AuthCache(30), AuthCache(30)
    async with (
        invalidation.in_server(one, settings) as first,
        invalidation.in_server(two, settings) as second,
    ):
        assert first is not None
        assert second is not None
        await asyncio.wait_for(first.listening.wait(), 5)
        await asyncio.wait_for(second.listening.wait(), 5)
        _cached(one)
        _cached(two)
        one.clear()
        await _until(lambda: second.heard == 1)
        assert two.get("k:1") is None
        assert first.heard == 0  # its own message is not news to it
        # A command in another process tells both.
        _cached(one, "k:2")
        assert await invalidation.announce(settings)
        await _until(lambda: first.heard == 1 and second.heard == 2)
        assert one.get("k:2") is None
    assert one.broadcast is None  # nothing is sent after shutdown


async def test_another_prefix_is_another_deployment(redis_settings):
    mine = _settings(**redis_settings)
    theirs = _settings(redis_url=REDIS_DB, redis_prefix=redis_settings["redis_prefix"] + "x:")
    cache = AuthCache(30)
    async with invalidation.in_server(cache, mine) as listener:
        assert listener is not None
        await asyncio.wait_for(listener.listening.wait(), 5)
        assert await invalidation.announce(theirs)
        assert await invalidation.announce(mine)
        await _until(lambda: listener.heard == 1)
        await asyncio.sleep(0.2)
        assert listener.heard == 1


async def test_without_redis_nothing_listens_and_the_ttl_is_the_bound():
    cache = AuthCache(0.2)
    async with invalidation.in_server(cache, _settings()) as listener:
        assert listener is None
        assert cache.broadcast is None
        assert not await invalidation.announce(_settings())
        _cached(cache)
        await asyncio.sleep(0.25)
        assert cache.get("k:1") is None


async def test_the_subscriber_comes_back_after_a_redis_outage(redis_settings, capsys):
    proxy = TcpProxy("127.0.0.1", 6379)
    await proxy.start()
    settings = _settings(
        redis_url=f"redis://127.0.0.1:{proxy.port}/5", redis_prefix=redis_settings["redis_prefix"]
    )
    cache = AuthCache(30)
    try:
        async with invalidation.in_server(cache, settings) as listener:
            assert listener is not None
            await asyncio.wait_for(listener.listening.wait(), 5)
            await proxy.stop()  # Redis goes away: connections cut, nobody answers
            await _until(lambda: not listener.listening.is_set())
            _cached(cache)  # requests go on, on the TTL
            cache.clear()  # a change here cannot be told: logged, not raised
            _cached(cache)
            await proxy.start()  # back on the same port
            await asyncio.wait_for(listener.listening.wait(), 15)
            # It may have missed changes while away: it starts from an empty cache.
            assert cache.get("k:1") is None
            assert await invalidation.announce(_settings(**redis_settings))
            await _until(lambda: listener.heard == 1)
    finally:
        await proxy.stop()
    logged = capsys.readouterr()
    text_out = logged.out + logged.err
    assert "auth_invalidation_unavailable" in text_out
    assert "auth_invalidation_not_sent" in text_out
