"""Merkle trees against RFC 6962's reference vectors and against the definition itself."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.audit.merkle import (
    MerkleBuilder,
    inclusion_proof,
    leaf_hash,
    merkle_root,
    node_hash,
    root_from_inclusion,
    verify_inclusion,
)

# The Certificate Transparency reference tree (RFC 6962 test data): leaves and the root
# after each of them.
CT_LEAVES = [
    bytes.fromhex(h)
    for h in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_PROOFS = {
    (0, 8): [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    (5, 8): [
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
}


def reference_root(leaves: list[bytes]) -> bytes:
    """MTH straight from RFC 6962 section 2.1, recursively."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    left, right = reference_root(leaves[:k]), reference_root(leaves[k:])
    return hashlib.sha256(b"\x01" + left + right).digest()


def test_roots_match_the_rfc6962_reference_tree() -> None:
    for size, expected in enumerate(CT_ROOTS):
        assert merkle_root(CT_LEAVES[:size]).hex() == expected
        builder = MerkleBuilder()
        for leaf in CT_LEAVES[:size]:
            builder.add(leaf)
        assert builder.root().hex() == expected
        assert builder.size == size


@pytest.mark.parametrize(("index", "size"), sorted(CT_PROOFS))
def test_proofs_match_the_rfc6962_reference_paths(index: int, size: int) -> None:
    proof = inclusion_proof(CT_LEAVES[:size], index)
    assert [p.hex() for p in proof] == CT_PROOFS[(index, size)]
    root = bytes.fromhex(CT_ROOTS[size])
    assert verify_inclusion(CT_LEAVES[index], index, size, proof, root)


def test_hashes_are_domain_separated() -> None:
    data = b"\x11" * 32
    assert leaf_hash(data) != hashlib.sha256(data).digest()
    assert node_hash(data, data) != leaf_hash(data + data)


leaves_strategy = st.lists(st.binary(min_size=0, max_size=40), min_size=1, max_size=70)


@settings(max_examples=300, deadline=None)
@given(leaves_strategy)
def test_every_leaf_proves_against_the_definitional_root(leaves: list[bytes]) -> None:
    root = reference_root(leaves)
    assert merkle_root(leaves) == root
    for index, leaf in enumerate(leaves):
        proof = inclusion_proof(leaves, index)
        assert len(proof) <= max(1, len(leaves) - 1).bit_length()
        assert verify_inclusion(leaf, index, len(leaves), proof, root)


@settings(max_examples=150, deadline=None)
@given(leaves_strategy, st.data())
def test_wrong_leaf_index_size_sibling_or_root_never_proves(
    leaves: list[bytes], data: st.DataObject
) -> None:
    size = len(leaves)
    root = merkle_root(leaves)
    index = data.draw(st.integers(0, size - 1))
    proof = inclusion_proof(leaves, index)
    leaf = leaves[index]
    other = data.draw(st.binary(max_size=40))
    if other != leaf:
        assert not verify_inclusion(other, index, size, proof, root)
    wrong_index = data.draw(st.integers(-2, size + 2))
    if wrong_index != index and (
        wrong_index >= size or wrong_index < 0 or leaves[wrong_index] != leaf
    ):
        assert not verify_inclusion(leaf, wrong_index, size, proof, root)
    # The tree size is not authenticated by the path alone (the signed checkpoint fixes
    # it), but a size whose path has another length never verifies.
    wrong_size = data.draw(st.integers(0, 2 * size + 2))
    if index >= wrong_size or len(inclusion_proof([b""] * wrong_size, index)) != len(proof):
        assert not verify_inclusion(leaf, index, wrong_size, proof, root)
    if proof:
        position = data.draw(st.integers(0, len(proof) - 1))
        flipped = bytearray(proof[position])
        flipped[0] ^= 1
        tampered = [*proof[:position], bytes(flipped), *proof[position + 1 :]]
        assert not verify_inclusion(leaf, index, size, tampered, root)
        assert not verify_inclusion(leaf, index, size, proof[:-1], root)
    assert not verify_inclusion(leaf, index, size, [*proof, b"\x00" * 32], root)
    assert not verify_inclusion(leaf, index, size, proof, hashlib.sha256(root).digest())


@settings(max_examples=200, deadline=None)
@given(
    st.binary(max_size=40),
    st.integers(-5, 300),
    st.integers(-5, 300),
    st.lists(st.binary(max_size=40), max_size=12),
)
def test_garbage_proofs_are_refused_quietly(
    leaf: bytes, index: int, size: int, proof: list[bytes]
) -> None:
    result = root_from_inclusion(leaf, index, size, proof)
    assert result is None or len(result) == 32


def test_proof_index_outside_the_tree_raises() -> None:
    with pytest.raises(IndexError):
        inclusion_proof([b"a"], 1)
    with pytest.raises(IndexError):
        inclusion_proof([], 0)


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 3000))
def test_builder_root_after_every_prefix_equals_the_definition(size: int) -> None:
    leaves = [i.to_bytes(4, "big") for i in range(size)]
    builder = MerkleBuilder()
    for leaf in leaves:
        builder.add(leaf)
    assert builder.root() == reference_root(leaves)
