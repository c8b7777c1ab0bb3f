"""The S3 checksum algorithms: known vectors, streaming, composite values, client input."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import random
import zlib

import pytest

from lightningstor_types.checksums import (
    THREAD_THRESHOLD,
    ChecksumAlgorithm,
    MultiHasher,
    b64digest,
    composite_checksum,
    multipart_etag,
    new_hasher,
    parse_b64_checksum,
)

ALL = list(ChecksumAlgorithm)
CHECK = b"123456789"  # the CRC catalogue's check input

# (algorithm, input, digest): CRC check values from the CRC catalogue, SHA vectors from FIPS 180.
VECTORS = [
    (ChecksumAlgorithm.CRC32, CHECK, "cbf43926"),
    (ChecksumAlgorithm.CRC32C, CHECK, "e3069283"),
    (ChecksumAlgorithm.CRC64NVME, CHECK, "ae8b14860a799888"),
    (ChecksumAlgorithm.CRC32, b"", "00000000"),
    (ChecksumAlgorithm.CRC32C, b"", "00000000"),
    (ChecksumAlgorithm.CRC64NVME, b"", "0000000000000000"),
    (ChecksumAlgorithm.SHA1, b"", "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
    (ChecksumAlgorithm.SHA1, b"abc", "a9993e364706816aba3e25717850c26c9cd0d89d"),
    (
        ChecksumAlgorithm.SHA256,
        b"",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    ),
    (
        ChecksumAlgorithm.SHA256,
        b"abc",
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    ),
]


def one_shot(alg: ChecksumAlgorithm, data: bytes) -> bytes:
    hasher = new_hasher(alg)
    hasher.update(data)
    return hasher.digest()


def irregular_pieces(data: bytes, seed: int) -> list[bytes]:
    """``data`` cut at random places, including empty pieces."""
    rng = random.Random(seed)
    pieces, at = [], 0
    while at < len(data):
        n = rng.choice([0, 1, 3, 7, 64, 1000, 4096, 65537])
        pieces.append(data[at : at + n])
        at += n
    return pieces


@pytest.mark.parametrize(("alg", "data", "expected"), VECTORS)
def test_known_vectors(alg: ChecksumAlgorithm, data: bytes, expected: str) -> None:
    digest = one_shot(alg, data)
    assert digest.hex() == expected
    assert len(digest) == alg.digest_size


@pytest.mark.parametrize(
    ("alg", "expected"),
    [
        (ChecksumAlgorithm.CRC32, "y/Q5Jg=="),
        (ChecksumAlgorithm.CRC32C, "4waSgw=="),
        (ChecksumAlgorithm.CRC64NVME, "rosUhgp5mIg="),
    ],
)
def test_b64digest_is_big_endian_base64(alg: ChecksumAlgorithm, expected: str) -> None:
    hasher = new_hasher(alg)
    hasher.update(CHECK)
    assert b64digest(hasher) == expected


def test_values_and_header_names() -> None:
    assert [a.value for a in ChecksumAlgorithm] == [
        "CRC32",
        "CRC32C",
        "SHA1",
        "SHA256",
        "CRC64NVME",
    ]
    assert ChecksumAlgorithm("CRC64NVME") is ChecksumAlgorithm.CRC64NVME
    assert {a.header_name for a in ChecksumAlgorithm} == {
        "x-amz-checksum-crc32",
        "x-amz-checksum-crc32c",
        "x-amz-checksum-sha1",
        "x-amz-checksum-sha256",
        "x-amz-checksum-crc64nvme",
    }


@pytest.mark.parametrize("alg", ALL)
def test_streaming_in_irregular_pieces_equals_one_shot(alg: ChecksumAlgorithm) -> None:
    data = random.Random(7).randbytes(300_000)
    for seed in range(3):
        hasher = new_hasher(alg)
        for i, piece in enumerate(irregular_pieces(data, seed)):
            hasher.update(memoryview(piece) if i % 2 else piece)
        assert hasher.digest() == one_shot(alg, data)


def test_multihasher_inline_matches_each_algorithm() -> None:
    data = random.Random(1).randbytes(100_000)
    multi = MultiHasher(ALL)
    for piece in irregular_pieces(data, 3):
        multi.update(piece)
    assert multi.md5_hex() == hashlib.md5(data).hexdigest()
    assert multi.md5_digest() == hashlib.md5(data).digest()
    assert multi.algorithms == tuple(ALL)
    assert multi.checksums() == {alg: base64.b64encode(one_shot(alg, data)).decode() for alg in ALL}
    assert multi.digest(ChecksumAlgorithm.CRC32) == zlib.crc32(data).to_bytes(4, "big")


def test_multihasher_md5_only_and_duplicates() -> None:
    multi = MultiHasher([ChecksumAlgorithm.SHA256, ChecksumAlgorithm.SHA256])
    assert multi.algorithms == (ChecksumAlgorithm.SHA256,)
    assert MultiHasher().checksums() == {}
    assert MultiHasher().md5_hex() == "d41d8cd98f00b204e9800998ecf8427e"
    with pytest.raises(KeyError):
        MultiHasher().digest(ChecksumAlgorithm.CRC32)


@pytest.mark.parametrize("algorithms", [[], ALL])
async def test_multihasher_async_large_and_small_buffers(
    algorithms: list[ChecksumAlgorithm],
) -> None:
    rng = random.Random(2)
    pieces = [
        rng.randbytes(THREAD_THRESHOLD),  # threaded
        rng.randbytes(1000),  # inline
        rng.randbytes(THREAD_THRESHOLD + 12345),  # threaded
        rng.randbytes(THREAD_THRESHOLD - 1),  # inline
    ]
    data = b"".join(pieces)
    multi = MultiHasher(algorithms)
    for i, piece in enumerate(pieces):
        await multi.update_async(memoryview(piece) if i % 2 else piece)
    assert multi.md5_hex() == hashlib.md5(data).hexdigest()
    assert multi.checksums() == {
        alg: base64.b64encode(one_shot(alg, data)).decode() for alg in algorithms
    }


async def test_multihasher_refuses_overlapping_updates() -> None:
    multi = MultiHasher([ChecksumAlgorithm.SHA256])
    big = bytes(4 * THREAD_THRESHOLD)
    running = asyncio.create_task(multi.update_async(big))
    await asyncio.sleep(0)  # let it hand the buffer to its threads
    with pytest.raises(RuntimeError, match="update_async"):
        multi.update(b"x")
    with pytest.raises(RuntimeError, match="update_async"):
        await multi.update_async(big)
    await running
    multi.update(b"x")  # usable again once the update finished
    assert multi.md5_hex() == hashlib.md5(big + b"x").hexdigest()


def test_multipart_etag_matches_hand_computation() -> None:
    # (printf part1 | openssl md5 -binary; printf part2 | …; printf part3 | …) | openssl md5
    parts = [hashlib.md5(p).hexdigest() for p in (b"part1", b"part2", b"part3")]
    assert parts == [
        "ffc88b4ca90a355f8ddba6b2c3b2af5c",
        "d067a0fa9dc61a6e7195ca99696b5a89",
        "49dcd91231f801159e893fb5c6674985",
    ]
    assert multipart_etag(parts) == "5e9583dc343a55b829d3b99070a10015-3"
    single = hashlib.md5(bytes.fromhex(parts[0])).hexdigest()
    assert multipart_etag(parts[:1]) == f"{single}-1"


@pytest.mark.parametrize("bad", [[], ["abc"], ["zz" * 16], ['"' + "0" * 32 + '"']])
def test_multipart_etag_rejects_bad_input(bad: list[str]) -> None:
    with pytest.raises(ValueError, match=r"part|hex"):
        multipart_etag(bad)


def test_composite_checksum_format() -> None:
    parts = [b"part1", b"part2"]
    crc_digests = [zlib.crc32(p).to_bytes(4, "big") for p in parts]
    expected_crc = zlib.crc32(b"".join(crc_digests)).to_bytes(4, "big")
    assert composite_checksum(ChecksumAlgorithm.CRC32, crc_digests) == (
        base64.b64encode(expected_crc).decode() + "-2"
    )

    sha_digests = [hashlib.sha256(p).digest() for p in parts]
    expected_sha = hashlib.sha256(b"".join(sha_digests)).digest()
    value = composite_checksum(ChecksumAlgorithm.SHA256, sha_digests)
    assert value == base64.b64encode(expected_sha).decode() + "-2"
    b64, _, count = value.rpartition("-")
    assert count == "2"
    assert parse_b64_checksum(ChecksumAlgorithm.SHA256, b64) == expected_sha


def test_composite_checksum_rejects_bad_parts() -> None:
    with pytest.raises(ValueError, match="at least one part"):
        composite_checksum(ChecksumAlgorithm.CRC32C, [])
    with pytest.raises(ValueError, match="4 bytes"):
        composite_checksum(ChecksumAlgorithm.CRC32C, [b"\x00" * 8])


@pytest.mark.parametrize("alg", ALL)
def test_parse_b64_checksum_round_trips(alg: ChecksumAlgorithm) -> None:
    hasher = new_hasher(alg)
    hasher.update(CHECK)
    assert parse_b64_checksum(alg, b64digest(hasher)) == hasher.digest()


@pytest.mark.parametrize(
    ("alg", "value"),
    [
        (ChecksumAlgorithm.CRC32, base64.b64encode(b"\x00" * 8).decode()),  # a CRC64 length
        (ChecksumAlgorithm.CRC32C, base64.b64encode(b"\x00" * 3).decode()),
        (ChecksumAlgorithm.CRC64NVME, base64.b64encode(b"\x00" * 4).decode()),
        (ChecksumAlgorithm.SHA1, base64.b64encode(b"\x00" * 32).decode()),
        (ChecksumAlgorithm.SHA256, base64.b64encode(b"\x00" * 20).decode()),
        (ChecksumAlgorithm.SHA256, ""),
        (ChecksumAlgorithm.CRC32, "y/Q5Jg="),  # bad padding
        (ChecksumAlgorithm.CRC32, "y/Q5Jg==\n"),  # trailing junk
        (ChecksumAlgorithm.CRC32, "y*Q5Jg=="),  # not in the alphabet
    ],
)
def test_parse_b64_checksum_rejects_bad_values(alg: ChecksumAlgorithm, value: str) -> None:
    with pytest.raises(ValueError, match=alg.header_name):
        parse_b64_checksum(alg, value)


@pytest.mark.parametrize(
    "alg", [ChecksumAlgorithm.CRC32, ChecksumAlgorithm.CRC32C, ChecksumAlgorithm.CRC64NVME]
)
def test_combine_crcs_equals_crc_of_the_concatenation(alg: ChecksumAlgorithm) -> None:
    from lightningstor_types.checksums import combine_crcs

    parts = [b"first part " * 1000, b"", b"x", b"third" * 77]
    digests = []
    for p in parts:
        h = new_hasher(alg)
        h.update(p)
        digests.append(h.digest())
    whole = new_hasher(alg)
    whole.update(b"".join(parts))
    assert combine_crcs(alg, digests, [len(p) for p in parts]) == b64digest(whole)
