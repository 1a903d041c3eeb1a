"""The `checkout.line_items` flow rule, against networkx's max flow as an oracle."""

from __future__ import annotations

import networkx as nx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.ap2.verification.lineitems import MalformedCheckout, checkout_counts, line_items_problem
from app.ap2.verification.shapes import AcceptableItem, LineItemEntry


def _entry(quantity: int, *ids: str) -> LineItemEntry:
    return LineItemEntry("e", tuple(AcceptableItem(i, i) for i in ids), quantity)


@pytest.mark.parametrize(
    ("entries", "counts", "ok"),
    [
        ([_entry(1, "a")], {"a": 1}, True),
        ([_entry(2, "a")], {"a": 1}, False),
        ([_entry(1, "a")], {"a": 2}, False),
        ([_entry(1, "a"), _entry(1, "a")], {"a": 2}, True),
        ([_entry(1, "a"), _entry(1, "a")], {"a": 1, "b": 1}, False),
        ([_entry(2, "a", "b")], {"a": 1, "b": 1}, True),
        ([_entry(1, "a", "b"), _entry(1, "a")], {"b": 1, "a": 1}, True),
        ([_entry(1, "a", "b"), _entry(1, "a")], {"b": 2}, False),
        ([_entry(1)], {"a": 1}, False),
        ([_entry(1, "a", "a")], {"a": 1}, True),
        (
            [_entry(3, "a", "b"), _entry(1, "b", "c"), _entry(2, "c")],
            {"a": 2, "b": 1, "c": 3},
            True,
        ),
        (
            [_entry(3, "a", "b"), _entry(1, "b", "c"), _entry(2, "c")],
            {"a": 1, "b": 1, "c": 4},
            False,
        ),
        ([_entry(10**18, "a")], {"a": 10**18}, True),
        ([], {}, True),
    ],
)
def test_flow_rule(entries: list[LineItemEntry], counts: dict[str, int], ok: bool) -> None:
    assert (line_items_problem(entries, counts) is None) is ok


def test_augmenting_paths_that_reroute_earlier_flow() -> None:
    # A greedy first fit puts entry 0 on "a"; only rerouting it to "b" fills entry 1.
    entries = [_entry(1, "a", "b"), _entry(1, "a")]
    assert line_items_problem(entries, {"a": 1, "b": 1}) is None
    chain = [_entry(1, f"i{k}", f"i{k + 1}") for k in range(300)] + [_entry(1, "i0")]
    assert line_items_problem(chain, {f"i{k}": 1 for k in range(301)}) is None


def test_large_inputs_stay_fast() -> None:
    entries = [_entry(1, *(f"i{(k * 7 + j) % 500}" for j in range(40))) for k in range(500)]
    assert line_items_problem(entries, {f"i{k}": 1 for k in range(500)}) is None


def test_checkout_counts() -> None:
    lines = [
        {"id": "l1", "item": {"id": "a"}, "quantity": 2},
        {"id": "l2", "item": {"id": "a", "title": "again"}, "quantity": 1},
        {"id": "l3", "item": {"id": "b"}, "quantity": 1},
    ]
    assert checkout_counts({"line_items": lines}) == {"a": 3, "b": 1}
    assert checkout_counts({"line_items": []}) == {}
    for bad in ({}, {"line_items": {}}, {"line_items": [{"item": {"id": "a"}, "quantity": -1}]}):
        with pytest.raises(MalformedCheckout):
            checkout_counts(bad)


def _oracle(entries: list[LineItemEntry], counts: dict[str, int]) -> bool:
    wanted = sum(e.quantity for e in entries)
    if wanted != sum(counts.values()):
        return False
    graph = nx.DiGraph()
    graph.add_node("s")
    graph.add_node("t")
    for j, entry in enumerate(entries):
        graph.add_edge("s", ("e", j), capacity=entry.quantity)
        for item in entry.acceptable_items:
            if item.id in counts:
                graph.add_edge(("e", j), ("i", item.id))  # no capacity: unbounded
    for ident, count in counts.items():
        graph.add_edge(("i", ident), "t", capacity=count)
    return nx.maximum_flow_value(graph, "s", "t") == wanted


ids = st.sampled_from("abcdef")


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.lists(
        st.tuples(st.integers(1, 4), st.lists(ids, max_size=4)).map(lambda t: _entry(t[0], *t[1])),
        max_size=5,
    ),
    st.dictionaries(ids, st.integers(1, 5), max_size=5),
)
def test_agrees_with_networkx(entries: list[LineItemEntry], counts: dict[str, int]) -> None:
    assert (line_items_problem(entries, counts) is None) is _oracle(entries, counts)
