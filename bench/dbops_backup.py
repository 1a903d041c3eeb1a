"""Backup and restore wall time against a hand-run `pg_dump | gzip` and
`gunzip | psql` of the same database in the same run.

    .venv/bin/python bench/dbops_backup.py [--mandates 1000000] [--audits 2000000]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from dbops_common import (
    ROOT,
    cli_env,
    create_database,
    drop_database,
    fill,
    libpq,
    migrate,
    psql,
    timed,
    timed_shell,
    url_for,
)

CLI = str(ROOT / ".venv" / "bin" / "mandate-vault")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mandates", type=int, default=1_000_000)
    parser.add_argument("--audits", type=int, default=2_000_000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mv-bench-backup-"))
    source = create_database("mvb_src")
    empty_a = create_database("mvb_hand")
    empty_b = create_database("mvb_ours")
    try:
        migrate(source)
        seconds = fill(source, args.mandates, args.audits)
        size = psql(source, "SELECT pg_size_pretty(pg_database_size(current_database()))")
        print(
            f"data: {args.mandates:,} mandates + {args.audits:,} audit rows ({size}), made in {seconds:.1f}s"
        )

        hand_file = work / "hand.sql.gz"
        hand_backup = timed_shell(f"pg_dump | gzip > {hand_file}", libpq(source))
        env = cli_env(url_for(source), BACKUP_DIR=str(work / "ours"))
        ours_backup = timed([CLI, "db", "backup"], env)
        ours_file = next((work / "ours").glob("mandate_vault_backup_*.sql.gz"))
        print(
            f"backup:  pg_dump | gzip {hand_backup:.2f}s ({hand_file.stat().st_size / 1e6:.0f} MB)  "
            f"mandate-vault db backup {ours_backup:.2f}s ({ours_file.stat().st_size / 1e6:.0f} MB)  "
            f"ratio {ours_backup / hand_backup:.2f}x"
        )

        hand_restore = timed_shell(
            f"gunzip < {hand_file} | psql -X -q -o /dev/null", libpq(empty_a)
        )
        ours_restore = timed(
            [CLI, "db", "restore", str(ours_file), "--yes"],
            cli_env(url_for(empty_b), BACKUP_DIR=str(work / "safety")),
        )
        print(
            f"restore into an empty database:  gunzip | psql {hand_restore:.2f}s  "
            f"mandate-vault db restore {ours_restore:.2f}s  ratio {ours_restore / hand_restore:.2f}x"
        )
        # Over a full database: the safety backup of what is replaced comes first.
        over_full = timed(
            [CLI, "db", "restore", str(ours_file), "--yes"],
            cli_env(url_for(empty_b), BACKUP_DIR=str(work / "safety")),
        )
        print(
            f"restore over the full database (safety backup + restore + checks): {over_full:.2f}s  "
            f"ratio {over_full / hand_restore:.2f}x"
        )
    finally:
        for name in (source, empty_a, empty_b):
            drop_database(name)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
