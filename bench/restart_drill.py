"""The PostgreSQL restart drill, ten times in a row: a real server under steady
ingest (four writers) while a throwaway cluster stops for four seconds and starts.

    flock /tmp/mandate-vault-bench.lock .venv/bin/python bench/restart_drill.py [RUNS]

Per run: statuses, 5xx other than 503, 503s, the worst /readyz answer time while
the database was down, the time to the first /readyz 200 after it returned, and
acknowledged (201) mandates and how many of them could not be read afterwards.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.drills.cluster import start_cluster
from tests.drills.restart import fresh_database, run_restart_drill


def main(runs: int) -> None:
    cluster = start_cluster()
    rows = []
    try:
        for index in range(runs):
            environment = "production" if index % 2 else "development"
            url = fresh_database(cluster)
            figures = asyncio.run(run_restart_drill(cluster, url, environment))
            row = figures.summary()
            rows.append(row)
            print(json.dumps({"run": index + 1, **row}), flush=True)
    finally:
        cluster.remove()
    print(
        "| run | settings | 201 | 503 | other 5xx | worst /readyz down (s) | recovery (s) | acked | lost |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for index, row in enumerate(rows, 1):
        statuses = row["statuses"]
        print(
            f"| {index} | {row['environment']} | {statuses.get(201, 0)} | {row['503']} | "
            f"{row['5xx_other_than_503']} | {row['worst_readyz_seconds_while_down']} | "
            f"{row['recovery_seconds']} | {row['acknowledged']} | {row['lost']} |"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
