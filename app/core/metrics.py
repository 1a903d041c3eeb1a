"""The process's Prometheus registry: every series `GET /metrics` exposes lives here.

Each feature defines its own series in its own module and registers them in
`REGISTRY`:

- `app.web.request_metrics`: requests by method, route template and status, and their latency;
- `app.mandates.metrics`: mandates ingested by verification code and outcome;
- `app.dbops.metrics`: statement durations, slow queries, replica fallbacks (and,
  read at scrape time, pool figures and the database size);
- webhook deliveries and alerts: their features add their series here the same
  way (`mandate_vault_webhook_*`, `mandate_vault_alerts_*`), and they are scraped
  with the rest without touching the route.

Labels are bounded sets (route templates, never raw paths; known methods; codes),
so a client cannot grow the series without limit.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry

REGISTRY = CollectorRegistry(auto_describe=True)
