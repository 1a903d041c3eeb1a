"""Evidence packs verify offline; any change to any file is caught and named."""

from __future__ import annotations

import io
import json
import struct
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.evidence import (
    FindingCode,
    KeySource,
    PackFile,
    PackUnreadable,
    Severity,
    Verdict,
    layout,
    render_report,
    verify_pack,
)
from app.evidence.documents import dump_json, load_json
from app.evidence.zipio import MAX_PACK_BYTES, write_zip
from app.signing import Keyring, KeySetInvalid, generate_signing_key
from tests.evidence.packs import Pack, make_pack, repack


@pytest.fixture(scope="module")
def pack() -> Pack:
    return make_pack()


@pytest.fixture(scope="module")
def cart_pack() -> Pack:
    return make_pack(cart=True)


def codes(report, file: str | None = None) -> set[FindingCode]:
    return {f.code for f in report.findings if file is None or f.file == file}


def test_a_pack_verifies_against_the_vault_keys(pack: Pack) -> None:
    report = verify_pack(pack.data, pack.jwks)
    assert report.ok, render_report(report)
    assert report.verdict is Verdict.VALID
    assert report.findings == ()
    assert report.key_source is KeySource.GIVEN
    assert report.signed_by == pack.keyring.kid
    assert report.mandate_id == pack.contents.mandate_id
    assert report.tenant_id == pack.contents.tenant_id
    assert (report.rows_checked, report.rows_proven) == (20, 20)
    assert report.checkpoints_checked == 4
    assert report.files_checked == len(layout.REQUIRED)
    assert report.to_json()["verdict"] == "valid"


def test_a_rotated_away_issuer_key_still_verifies_the_mandate_as_of_ingest(pack: Pack) -> None:
    report = verify_pack(pack.data, pack.jwks)
    assert (report.ingest_code, report.ingest_rerun_code) == ("VALID", "VALID")
    # With today's keys only, the old token no longer verifies; the pack records that too.
    assert (report.now_code, report.now_rerun_code) == ("KEY_NOT_FOUND", "KEY_NOT_FOUND")
    text = render_report(report)
    assert "as of ingest: VALID (re-run here: VALID)" in text


def test_without_keys_the_pack_checks_itself_and_says_so(pack: Pack) -> None:
    report = verify_pack(pack.data)
    assert report.ok
    assert report.verdict is Verdict.VALID_WITH_WARNINGS
    assert report.key_source is KeySource.EMBEDDED
    assert codes(report, layout.MANIFEST_JWS) == {FindingCode.KEYS_FROM_PACK}


def test_the_vault_keys_after_a_rotation_still_verify_an_older_pack(pack: Pack) -> None:
    assert verify_pack(pack.data, pack.keyring.rotated().public_jwks()).ok


def test_a_pack_signed_by_another_key_fails_naming_the_signature(pack: Pack) -> None:
    stranger = Keyring.of(generate_signing_key())
    resigned = repack(pack, {}, resign=stranger)
    report = verify_pack(resigned, pack.jwks)
    assert not report.ok
    assert report.files_with(Severity.ERROR) == {layout.MANIFEST_JWS}
    assert codes(report) == {FindingCode.SIGNATURE_INVALID}
    # The whole pack made by another vault: every checkpoint is refused too.
    other = make_pack(keyring=stranger)
    report = verify_pack(other.data, pack.jwks)
    assert layout.MANIFEST_JWS in report.files_with(Severity.ERROR)
    assert FindingCode.CHECKPOINT_INVALID in codes(report, layout.AUDIT_CHECKPOINTS)


def _flip(data: bytes, at: int | None = None) -> bytes:
    position = len(data) // 2 if at is None else at
    return data[:position] + bytes([data[position] ^ 0x01]) + data[position + 1 :]


@pytest.mark.parametrize("cart", [False, True])
def test_one_flipped_byte_in_any_file_fails_naming_that_file(
    pack: Pack, cart_pack: Pack, cart: bool
) -> None:
    source = cart_pack if cart else pack
    for name, data in source.members().items():
        report = verify_pack(repack(source, {name: _flip(data)}), source.jwks)
        assert not report.ok, name
        assert name in report.files_with(Severity.ERROR), (name, render_report(report))


def _member_data_offset(data: bytes, name: str) -> tuple[int, int]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        info = archive.getinfo(name)
    start = info.header_offset
    name_length, extra_length = struct.unpack("<HH", data[start + 26 : start + 30])
    return start + 30 + name_length + extra_length, info.compress_size


def test_one_flipped_byte_in_the_archive_itself_fails_naming_the_file(pack: Pack) -> None:
    for name in pack.members():
        offset, size = _member_data_offset(pack.data, name)
        report = verify_pack(_flip(pack.data, offset + size // 2), pack.jwks)
        assert not report.ok, name
        assert name in report.files_with(Severity.ERROR), (name, render_report(report))


def test_a_removed_or_added_file_is_named(pack: Pack) -> None:
    report = verify_pack(repack(pack, {layout.AUDIT_ROWS: None}), pack.jwks)
    assert codes(report, layout.AUDIT_ROWS) == {FindingCode.FILE_MISSING}
    report = verify_pack(repack(pack, {"notes.txt": b"trust me"}), pack.jwks)
    assert codes(report, "notes.txt") == {FindingCode.FILE_UNLISTED}
    assert not report.ok


def test_required_files_left_out_of_a_signed_manifest_are_named(pack: Pack) -> None:
    report = verify_pack(repack(pack, {layout.VAULT_JWKS: None}, resign=pack.keyring), pack.jwks)
    assert codes(report, layout.VAULT_JWKS) == {FindingCode.FILE_MISSING}


@pytest.mark.filterwarnings("ignore:Duplicate name")
def test_archive_tricks_are_named(pack: Pack) -> None:
    members = list(pack.members().items())
    doubled = write_zip([*members, (layout.TOKEN, b"another token")])
    report = verify_pack(doubled, pack.jwks)
    assert layout.TOKEN in report.files_with(Severity.ERROR)
    unsafe = write_zip([*members, ("../escape.txt", b"x")])
    report = verify_pack(unsafe, pack.jwks)
    assert codes(report, "../escape.txt") == {FindingCode.FILE_UNSAFE}


@pytest.mark.parametrize("data", [b"", b"hello", b"PK\x03\x04 broken", bytes(range(256)) * 4])
def test_bytes_that_are_not_a_zip_are_unreadable(data: bytes) -> None:
    with pytest.raises(PackUnreadable, match="not a ZIP"):
        verify_pack(data)


def test_a_zip_asking_for_a_newer_zip_version_is_unreadable() -> None:
    """A central directory entry whose "version needed" is past what Python reads
    (found by the mutation fuzz below: zipfile raises NotImplementedError)."""
    data = bytearray(write_zip([("manifest.json", b"{}")]))
    entry = data.index(b"PK\x01\x02")
    struct.pack_into("<H", data, entry + 6, 84)  # version needed to extract: 8.4
    with pytest.raises(PackUnreadable, match="not a ZIP"):
        verify_pack(bytes(data))


def test_an_oversized_pack_is_unreadable() -> None:
    with pytest.raises(PackUnreadable, match="MiB"):
        verify_pack(b"\x00" * (MAX_PACK_BYTES + 1))


def test_a_bad_key_set_is_the_callers_error(pack: Pack) -> None:
    with pytest.raises(KeySetInvalid):
        verify_pack(pack.data, {"keys": [{"kty": "EC"}]})


# --- what the signed files claim (packs the vault itself signed wrongly) -------------------


def _rows_document(pack: Pack) -> dict:
    return load_json(pack.members()[layout.AUDIT_ROWS])


def test_an_edited_audit_row_is_caught_even_under_a_valid_signature(pack: Pack) -> None:
    document = _rows_document(pack)
    document["rows"][3]["record"]["action"] = "mandate.purged"
    data = repack(pack, {layout.AUDIT_ROWS: dump_json(document)}, resign=pack.keyring)
    report = verify_pack(data, pack.jwks)
    seq = document["rows"][3]["seq"]
    assert codes(report) == {FindingCode.ROW_HASH_MISMATCH}
    assert any(f"row seq {seq}" in f.message for f in report.findings)


def test_a_wrong_inclusion_path_or_position_fails_the_proof(pack: Pack) -> None:
    document = _rows_document(pack)
    path = document["rows"][0]["proof"]["path"]
    path[0] = ("0" if path[0][0] != "0" else "1") + path[0][1:]
    data = repack(pack, {layout.AUDIT_ROWS: dump_json(document)}, resign=pack.keyring)
    assert codes(verify_pack(data, pack.jwks)) == {FindingCode.PROOF_INVALID}
    document = _rows_document(pack)
    document["rows"][0]["proof"]["leaf_index"] += 1
    data = repack(pack, {layout.AUDIT_ROWS: dump_json(document)}, resign=pack.keyring)
    assert codes(verify_pack(data, pack.jwks)) == {FindingCode.PROOF_INVALID}


def test_a_proof_naming_an_absent_checkpoint(pack: Pack) -> None:
    checkpoints = load_json(pack.members()[layout.AUDIT_CHECKPOINTS])
    checkpoints["checkpoints"] = checkpoints["checkpoints"][1:]
    data = repack(pack, {layout.AUDIT_CHECKPOINTS: dump_json(checkpoints)}, resign=pack.keyring)
    report = verify_pack(data, pack.jwks)
    assert codes(report) == {FindingCode.CHECKPOINT_MISSING}
    assert report.files_with(Severity.ERROR) == {layout.AUDIT_ROWS}


def test_a_row_without_a_checkpoint_yet_is_a_warning(pack: Pack) -> None:
    document = _rows_document(pack)
    document["rows"][-1]["proof"] = None
    data = repack(pack, {layout.AUDIT_ROWS: dump_json(document)}, resign=pack.keyring)
    report = verify_pack(data, pack.jwks)
    assert report.ok
    assert codes(report) == {FindingCode.ROW_NOT_PROVEN}
    assert report.rows_proven == 19


def test_rows_that_break_their_links_are_named(pack: Pack) -> None:
    document = _rows_document(pack)
    rows = document["rows"]
    pair = next(i for i in range(len(rows) - 1) if rows[i + 1]["seq"] == rows[i]["seq"] + 1)
    rows[pair]["row_hash"] = rows[pair + 1]["row_hash"]  # now neither links nor hashes
    data = repack(pack, {layout.AUDIT_ROWS: dump_json(document)}, resign=pack.keyring)
    assert FindingCode.ROW_HASH_MISMATCH in codes(verify_pack(data, pack.jwks))


def test_a_recorded_verification_the_packed_keys_do_not_support(pack: Pack) -> None:
    at_ingest = load_json(pack.members()[layout.VERIFICATION_AT_INGEST])
    at_ingest["code"] = "SIG_INVALID"
    changed = {layout.VERIFICATION_AT_INGEST: dump_json(at_ingest)}
    report = verify_pack(repack(pack, changed, resign=pack.keyring), pack.jwks)
    assert codes(report) == {FindingCode.VERIFICATION_MISMATCH}
    assert report.files_with(Severity.ERROR) == {layout.VERIFICATION_AT_INGEST}
    # Today's keys packed as the ingest keys: the re-run no longer finds the signing key.
    now_keys = pack.members()[layout.ISSUER_KEYS_NOW]
    keys = load_json(now_keys)
    keys["as_of"] = at_ingest["as_of"]
    changed = {layout.ISSUER_KEYS_AT_INGEST: dump_json(keys)}
    report = verify_pack(repack(pack, changed, resign=pack.keyring), pack.jwks)
    assert codes(report) == {FindingCode.VERIFICATION_MISMATCH}
    assert "KEY_NOT_FOUND" in report.findings[0].message


def test_unusable_issuer_keys_are_named(pack: Pack) -> None:
    keys = load_json(pack.members()[layout.ISSUER_KEYS_AT_INGEST])
    keys["issuers"][0]["jwks"] = {"keys": [{"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}]}
    changed = {layout.ISSUER_KEYS_AT_INGEST: dump_json(keys)}
    report = verify_pack(repack(pack, changed, resign=pack.keyring), pack.jwks)
    assert codes(report) == {FindingCode.ISSUER_KEYS_INVALID}


def test_a_cart_pack_carries_and_checks_the_cart(cart_pack: Pack) -> None:
    report = verify_pack(cart_pack.data, cart_pack.jwks)
    assert report.ok, render_report(report)
    members = cart_pack.members()
    assert {layout.CART_CONTENTS, layout.MERCHANT_AUTHORIZATION} <= set(members)
    contents = load_json(members[layout.CART_CONTENTS])
    contents["merchant_name"] = "Another shop"
    changed = {layout.CART_CONTENTS: dump_json(contents)}
    report = verify_pack(repack(cart_pack, changed, resign=cart_pack.keyring), cart_pack.jwks)
    assert codes(report) == {FindingCode.CART_MISMATCH}
    assert report.files_with(Severity.ERROR) == {layout.CART_CONTENTS}
    changed = {layout.MERCHANT_AUTHORIZATION: None}
    report = verify_pack(repack(cart_pack, changed, resign=cart_pack.keyring), cart_pack.jwks)
    assert codes(report, layout.MERCHANT_AUTHORIZATION) == {FindingCode.FILE_MISSING}


def test_further_files_are_signed_and_reported_uninterpreted() -> None:
    receipt = PackFile("ap2/receipts/0001.jws", b"eyJ...receipt")
    pack = make_pack(events=3, extra_files=(receipt,))
    report = verify_pack(pack.data, pack.jwks)
    assert report.ok
    assert codes(report, receipt.path) == {FindingCode.FILE_NOT_INTERPRETED}
    report = verify_pack(repack(pack, {receipt.path: b"eyJ...forged!"}), pack.jwks)
    assert codes(report, receipt.path) == {FindingCode.FILE_HASH_MISMATCH}


def test_extra_files_cannot_shadow_pack_files() -> None:
    for path in (layout.MANIFEST, layout.TOKEN, layout.VAULT_JWKS, "../x", "a//b"):
        with pytest.raises(ValueError, match="cannot add"):
            make_pack(events=1, extra_files=(PackFile(path, b"x"),))


def test_manifest_format_errors_are_named(pack: Pack) -> None:
    manifest = load_json(pack.members()[layout.MANIFEST])
    for mutate in (
        lambda m: m.update(version=2),
        lambda m: m.pop("chain"),
        lambda m: m["files"].append(dict(m["files"][0])),
        lambda m: m["files"][0].update(path="/etc/passwd"),
        lambda m: m["files"][0].update(sha256="xyz"),
        lambda m: m.update(created_at="yesterday"),
    ):
        changed = json.loads(json.dumps(manifest))
        mutate(changed)
        data = dump_json(changed)
        members = pack.members()
        members[layout.MANIFEST] = data
        members[layout.MANIFEST_JWS] = pack.keyring.sign(data, typ=layout.MANIFEST_TYP).encode()
        report = verify_pack(write_zip(list(members.items())), pack.jwks)
        assert codes(report, layout.MANIFEST) == {FindingCode.MANIFEST_INVALID}


def test_a_twenty_event_pack_stays_small_with_batches_of_1024() -> None:
    # Worst case: each event in its own batch of 1,024 rows, so 20 proofs of 10 hashes
    # and 20 checkpoints; the tenant's total chain length does not enter.
    pack = make_pack(events=20, batch=1024, spread=True)
    report = verify_pack(pack.data, pack.jwks)
    assert report.ok
    assert (report.rows_proven, report.checkpoints_checked) == (20, 20)
    assert len(pack.data) < 64 * 1024, len(pack.data)


_FUZZ_PACK = make_pack(events=4)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.integers(0, len(_FUZZ_PACK.data) - 1), st.integers(1, 255)),
        min_size=1,
        max_size=4,
    ),
    st.integers(0, len(_FUZZ_PACK.data)),
)
def test_mutated_packs_raise_nothing_but_pack_unreadable(
    flips: list[tuple[int, int]], cut: int
) -> None:
    data = bytearray(_FUZZ_PACK.data)
    for position, mask in flips:
        data[position] ^= mask
    for candidate in (bytes(data), bytes(data[:cut])):
        try:
            report = verify_pack(candidate, _FUZZ_PACK.jwks)
        except PackUnreadable:
            continue
        render_report(report)
        report.to_json()
