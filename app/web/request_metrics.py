"""Requests by method, route template and status, and their latency, observed by
`EdgeMiddleware` for every answer: cheap enough for the ingest path.

The route is the template the router matched (`/api/v1/mandates/{mandate_id}`),
never the raw path, and unknown methods count as `OTHER`, so no client can make
new series. The labelled children are cached, so a request costs one dict
lookup, a counter increment and a histogram observation.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram
from starlette.types import Scope

from app.core.metrics import REGISTRY

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"  # no route: 404s for unknown paths

REQUESTS = Counter(
    "mandate_vault_http_requests",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
    registry=REGISTRY,
)
REQUEST_SECONDS = Histogram(
    "mandate_vault_http_request_duration_seconds",
    "Time from a request's arrival to the end of its answer, by method, route template and status.",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)


def route_template(scope: Scope) -> str:
    route = scope.get("route")
    template = getattr(route, "path_format", None)
    return template if isinstance(template, str) and template else UNMATCHED


class RequestMetrics:
    """Counts and times HTTP requests, whatever answered them."""

    def __init__(self) -> None:
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def _series(self, method: str, route: str, status: int) -> tuple[Counter, Histogram]:
        key = (method, route, status)
        found = self._children.get(key)
        if found is None:
            labels = (method, route, str(status))
            found = (REQUESTS.labels(*labels), REQUEST_SECONDS.labels(*labels))
            self._children[key] = found
        return found

    def observe(self, scope: Scope, status: int, seconds: float) -> None:
        method = scope.get("method", "")
        counter, histogram = self._series(
            method if method in METHODS else "OTHER", route_template(scope), status
        )
        counter.inc()
        histogram.observe(seconds)
