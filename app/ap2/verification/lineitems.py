"""`checkout.line_items`: the checkout's quantities against the entries, as a max-flow problem.

Source -> entry j (capacity quantity_j), entry j -> item id k (unbounded) for each
revealed acceptable item k, item id k -> sink (capacity = checkout count of k). The
constraint holds iff sum of entries = sum of checkout quantities = max flow: every
entry filled exactly, nothing left over, nothing used twice; an entry with no
revealed items matches nothing.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

from app.ap2.verification.shapes import LineItemEntry


class MalformedCheckout(ValueError):
    """The checkout's `line_items` cannot be read (the constraint then fails)."""


def checkout_counts(payload: Mapping[str, Any]) -> dict[str, int]:
    """Quantity per UCP `line_items[].item.id`; raises MalformedCheckout."""
    lines = payload.get("line_items")
    if type(lines) is not list:
        raise MalformedCheckout("the checkout has no line_items array")
    counts: dict[str, int] = {}
    for number, line in enumerate(lines):
        item = line.get("item") if type(line) is dict else None
        ident = item.get("id") if type(item) is dict else None
        if type(ident) is not str:
            raise MalformedCheckout(f"checkout line_items[{number}] has no item.id string")
        quantity = line["quantity"] if type(line) is dict and "quantity" in line else None
        if type(quantity) is not int or quantity < 1:
            raise MalformedCheckout(
                f"checkout line_items[{number}] quantity is not an integer >= 1"
            )
        counts[ident] = counts.get(ident, 0) + quantity
    return counts


class _Network:
    """A small flow network (Dinic's algorithm) over integer capacities."""

    __slots__ = ("cap", "edges", "head", "level", "next_edge")

    def __init__(self, nodes: int) -> None:
        self.head: list[list[int]] = [[] for _ in range(nodes)]
        self.edges: list[int] = []  # edge e goes to edges[e]; e ^ 1 is its reverse
        self.cap: list[int] = []
        self.level: list[int] = []
        self.next_edge: list[int] = []

    def add(self, source: int, target: int, capacity: int) -> None:
        self.head[source].append(len(self.edges))
        self.edges.append(target)
        self.cap.append(capacity)
        self.head[target].append(len(self.edges))
        self.edges.append(source)
        self.cap.append(0)

    def _levels(self, source: int, sink: int) -> bool:
        level = [-1] * len(self.head)
        level[source] = 0
        queue = deque([source])
        while queue:
            node = queue.popleft()
            for edge in self.head[node]:
                target = self.edges[edge]
                if self.cap[edge] > 0 and level[target] < 0:
                    level[target] = level[node] + 1
                    queue.append(target)
        self.level = level
        return level[sink] >= 0

    def _augment(self, source: int, sink: int, limit: int) -> int:
        """One augmenting path of the level graph (iterative: residual paths can be long)."""
        edges, cap, level, next_edge, head = (
            self.edges,
            self.cap,
            self.level,
            self.next_edge,
            self.head,
        )
        path: list[int] = []
        node = source
        while True:
            if node == sink:
                pushed = min(limit, *(cap[edge] for edge in path))
                for edge in path:
                    cap[edge] -= pushed
                    cap[edge ^ 1] += pushed
                return pushed
            out = head[node]
            while next_edge[node] < len(out):
                edge = out[next_edge[node]]
                if cap[edge] > 0 and level[edges[edge]] == level[node] + 1:
                    path.append(edge)
                    node = edges[edge]
                    break
                next_edge[node] += 1
            else:
                if node == source:
                    return 0
                level[node] = -1  # a dead end for the rest of this phase
                node = edges[path.pop() ^ 1]
                next_edge[node] += 1

    def max_flow(self, source: int, sink: int, bound: int) -> int:
        flow = 0
        while flow < bound and self._levels(source, sink):
            self.next_edge = [0] * len(self.head)
            while True:
                pushed = self._augment(source, sink, bound - flow)
                if not pushed:
                    break
                flow += pushed
        return flow


def line_items_problem(entries: Sequence[LineItemEntry], counts: Mapping[str, int]) -> str | None:
    """None when the flow rule holds, else why it does not."""
    wanted = sum(entry.quantity for entry in entries)
    offered = sum(counts.values())
    if wanted != offered:
        return f"the entries ask for {wanted} items, the checkout has {offered}"
    items = {ident: number for number, ident in enumerate(counts)}
    source, sink = 0, 1
    first_entry = 2
    first_item = first_entry + len(entries)
    network = _Network(first_item + len(items))
    for number, entry in enumerate(entries):
        network.add(source, first_entry + number, entry.quantity)
        for ident in {item.id for item in entry.acceptable_items}:
            if ident in items:
                network.add(first_entry + number, first_item + items[ident], wanted)
    for ident, number in items.items():
        network.add(first_item + number, sink, counts[ident])
    flow = network.max_flow(source, sink, wanted)
    if flow != wanted:
        return (
            f"only {flow} of {wanted} checkout items can be assigned to entries "
            "whose revealed acceptable items they are"
        )
    return None
