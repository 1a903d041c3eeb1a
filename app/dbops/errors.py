"""Failures of database operations, each with the exit status a scheduler acts on.

0  done
1  the operator answered no: nothing was changed
2  refused: bad arguments or settings, other engine, non-empty target
3  the backup file is missing, damaged or does not match its manifest
4  the database (or pg_dump/psql) cannot be reached or run
5  storage: BACKUP_DIR unwritable or the disk is full
6  restore failed; the safety backup was put back
7  restore failed and the safety backup could not be put back: act now
"""

from __future__ import annotations


class DbOpsError(Exception):
    exit_code = 2


class Aborted(DbOpsError):
    exit_code = 1


class Refused(DbOpsError):
    exit_code = 2


class BackupInvalid(DbOpsError):
    exit_code = 3


class DatabaseUnreachable(DbOpsError):
    exit_code = 4


class StorageError(DbOpsError):
    exit_code = 5


class RestoreRolledBack(DbOpsError):
    exit_code = 6


class RestoreUnrecovered(DbOpsError):
    exit_code = 7
