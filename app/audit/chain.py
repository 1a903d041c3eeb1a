"""The audit hash chain: which fields of a row are hashed, how, and how rows are sealed.

One chain per tenant (its id in text form) and one for platform-level rows
(`platform`). A sealed row carries `seq` (1, 2, 3... with no gaps), `prev_hash`
(the previous row's `row_hash`, or the chain's genesis hash for seq 1) and

    row_hash = hex(SHA-256(RFC 8785 JSON of the row record))

where the row record is the object built by `row_record`: format version,
chain, seq, time (UTC, `YYYY-MM-DDTHH:MM:SS.ffffffZ`), actor type / id / role,
action, resource type / id, outcome, request id, client IP, details and
prev_hash. The genesis hash depends on the chain id, and the chain id is in
every record, so a row cannot be moved to another chain. docs/audit-chain.md
states the format for third parties.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple, Protocol

from app.audit.canonical import CanonicalFormError, canonical_json, canonical_object

RECORD_VERSION = 1
PLATFORM_CHAIN = "platform"
MAX_SEQ = 2**53 - 1
_GENESIS_PREFIX = b"mandate-vault/audit-chain/v1/genesis\x00"
_sha256 = hashlib.sha256


class UnhashableRow(ValueError):
    """A row whose fields have no canonical form (wrong type, naive time, non-JSON details)."""


class ChainMismatch(ValueError):
    """A row handed to the sealer of another chain."""


class HashableEntry(Protocol):
    """The recorded fields of an audit row (an ORM row, a Core row or an AuditRow)."""

    @property
    def chain_id(self) -> str: ...
    @property
    def timestamp(self) -> datetime: ...
    @property
    def actor_type(self) -> str: ...
    @property
    def actor_id(self) -> str | None: ...
    @property
    def actor_role(self) -> str | None: ...
    @property
    def action(self) -> str: ...
    @property
    def resource_type(self) -> str | None: ...
    @property
    def resource_id(self) -> str | None: ...
    @property
    def outcome(self) -> str | None: ...
    @property
    def request_id(self) -> str | None: ...
    @property
    def ip_address(self) -> str | None: ...
    @property
    def details(self) -> Any: ...


class SealedEntry(HashableEntry, Protocol):
    """A sealed row as stored: its fields plus seq and the two hashes."""

    @property
    def seq(self) -> int: ...
    @property
    def prev_hash(self) -> str: ...
    @property
    def row_hash(self) -> str: ...


class AuditRow(NamedTuple):
    """A sealed audit row, field for field what `audit_log` stores (SealedEntry)."""

    chain_id: str
    seq: int
    timestamp: datetime
    actor_type: str
    action: str
    actor_id: str | None = None
    actor_role: str | None = None
    resource_type: str | None = None
    resource_id: str | None = None
    outcome: str | None = None
    request_id: str | None = None
    ip_address: str | None = None
    details: Any = None
    prev_hash: str = ""
    row_hash: str = ""


def chain_id_for(tenant_id: uuid.UUID | str | None) -> str:
    """The chain of a tenant (its UUID as lowercase text), or `platform` for None."""
    if tenant_id is None:
        return PLATFORM_CHAIN
    return str(tenant_id if isinstance(tenant_id, uuid.UUID) else uuid.UUID(tenant_id))


def genesis_hash(chain_id: str) -> str:
    """The prev_hash of a chain's first row: SHA-256 of a fixed prefix and the chain id."""
    return _sha256(_GENESIS_PREFIX + chain_id.encode("utf-8")).hexdigest()


def format_time(moment: datetime) -> str:
    """The one textual form of a timestamp in a record: UTC, microseconds, `Z`."""
    if moment.__class__ is not datetime or moment.tzinfo is not UTC:
        if not isinstance(moment, datetime):
            raise UnhashableRow("timestamp must be a datetime")
        if moment.utcoffset() is None:
            raise UnhashableRow("timestamp has no time zone")
        utc = moment.astimezone(UTC)
        # A plain datetime, whatever subclass came in, so isoformat is the standard one.
        moment = datetime(*utc.timetuple()[:6], utc.microsecond, tzinfo=UTC)
    # An aware UTC datetime's isoformat ends in "+00:00"; it omits zero microseconds.
    text = moment.isoformat()
    if moment.microsecond:
        return text[:-6] + "Z"
    return text[:-6] + ".000000Z"


_OPTIONAL_TEXT = (
    "actor_id",
    "actor_role",
    "resource_type",
    "resource_id",
    "outcome",
    "request_id",
    "ip_address",
)


def _bad_text(entry: HashableEntry) -> UnhashableRow:
    for name in ("chain_id", "actor_type", "action"):
        if type(getattr(entry, name)) is not str:
            return UnhashableRow(f"{name} must be a string")
    for name in _OPTIONAL_TEXT:
        value = getattr(entry, name)
        if value is not None and type(value) is not str:
            return UnhashableRow(f"{name} must be a string or null, not {type(value).__name__}")
    return UnhashableRow("text members must be strings")


def row_record(entry: HashableEntry, seq: int, prev_hash: str) -> dict[str, Any]:
    """The object whose RFC 8785 encoding is hashed for `entry` at `seq` after `prev_hash`."""
    if type(seq) is not int or not 1 <= seq <= MAX_SEQ:
        raise UnhashableRow("seq must be an integer from 1 to 2**53 - 1")
    if type(prev_hash) is not str:
        raise UnhashableRow("prev_hash must be a string")
    chain, actor_type, action = entry.chain_id, entry.actor_type, entry.action
    actor_id, actor_role = entry.actor_id, entry.actor_role
    resource_type, resource_id, outcome = entry.resource_type, entry.resource_id, entry.outcome
    request_id, ip_address = entry.request_id, entry.ip_address
    # Written out rather than looped: this runs for every row sealed or verified.
    if (
        type(chain) is not str
        or type(actor_type) is not str
        or type(action) is not str
        or (actor_id is not None and type(actor_id) is not str)
        or (actor_role is not None and type(actor_role) is not str)
        or (resource_type is not None and type(resource_type) is not str)
        or (resource_id is not None and type(resource_id) is not str)
        or (outcome is not None and type(outcome) is not str)
        or (request_id is not None and type(request_id) is not str)
        or (ip_address is not None and type(ip_address) is not str)
    ):
        raise _bad_text(entry)
    return {
        "v": RECORD_VERSION,
        "chain": chain,
        "seq": seq,
        "time": format_time(entry.timestamp),
        "actor_type": actor_type,
        "actor_id": actor_id,
        "actor_role": actor_role,
        "action": action,
        "resource_type": resource_type,
        "resource_id": resource_id,
        "outcome": outcome,
        "request_id": request_id,
        "ip_address": ip_address,
        "details": entry.details,
        "prev_hash": prev_hash,
    }


def record_hash(record: Mapping[str, Any]) -> str:
    """hex SHA-256 of the RFC 8785 encoding of a row record (any mapping, checked in full)."""
    try:
        return _sha256(canonical_json(dict(record))).hexdigest()
    except CanonicalFormError as exc:
        raise UnhashableRow(str(exc)) from None


def entry_hash(entry: HashableEntry, seq: int, prev_hash: str) -> str:
    """row_hash of `entry` sealed at `seq` after `prev_hash`; UnhashableRow if it has none."""
    record = row_record(entry, seq, prev_hash)
    try:
        # row_record checked every member but details, so only details needs the walk.
        return _sha256(canonical_object(record, "details")).hexdigest()
    except CanonicalFormError as exc:
        raise UnhashableRow(str(exc)) from None


def check_entry(entry: HashableEntry) -> None:
    """Raise UnhashableRow now if `entry` could never be sealed (call before inserting it)."""
    entry_hash(entry, 1, "")


@dataclass(frozen=True, slots=True)
class ChainHead:
    """The newest sealed row of a chain: what the next row links to."""

    chain_id: str
    seq: int
    row_hash: str

    @classmethod
    def genesis(cls, chain_id: str) -> ChainHead:
        """The head of a chain with no rows yet."""
        return cls(chain_id, 0, genesis_hash(chain_id))


class Seal(NamedTuple):
    """What the sealer writes onto one row."""

    seq: int
    prev_hash: str
    row_hash: str


def seal_entries(entries: Iterable[HashableEntry], head: ChainHead) -> tuple[list[Seal], ChainHead]:
    """Seals for `entries` in the order given, continuing after `head`; and the new head.

    Raises ChainMismatch for an entry of another chain and UnhashableRow for one
    that has no canonical form; nothing is sealed then.
    """
    seals: list[Seal] = []
    seq, prev = head.seq, head.row_hash
    for entry in entries:
        if entry.chain_id != head.chain_id:
            raise ChainMismatch(f"row of chain {entry.chain_id!r} sealed on {head.chain_id!r}")
        seq += 1
        row_hash = entry_hash(entry, seq, prev)
        seals.append(Seal(seq, prev, row_hash))
        prev = row_hash
    return seals, ChainHead(head.chain_id, seq, prev)
