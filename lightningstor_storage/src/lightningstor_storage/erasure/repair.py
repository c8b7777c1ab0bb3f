"""Scrub and rebuild of erasure-coded chunks: each of its k + m fragments back on a node.

A check asks every node for the chunk: verified where it lies (``VerifyChunk``, every block's
CRC32C, paced at the scrub rate) or only looked up, then the footer read, which says which
fragment it is and of what chunk size. A fragment is good when it verifies, its footer parses and
its length fits the chunk's size. An index with no good fragment is *missing*; one whose only
good copies are on draining nodes is *moving*. With repair, and at least k good indices, each
missing or moving fragment is rebuilt from k others, stripe window by stripe window (zfec
in a worker thread), and streamed to a writable node of the chunk's placement that
holds none of its fragments; a corrupt fragment is deleted first, a moved one afterwards.
Fewer than k good indices on nodes that all answered: the chunk is lost. A whole chunk (every
index good, every node answering, nothing corrupt, a verifying pass) whose fragment lies only off
its placement targets while a target holds none (a node was added, and HRW now names it) has that
fragment copied to the target and deleted where it was.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass

from lightningstor.storage.v1 import storage_pb2 as pb
from lightningstor_storage.backend import ChunkCorrupt, ChunkNotFound, StorageError
from lightningstor_storage.chunkfile import crc32c
from lightningstor_storage.erasure.codec import FOOTER_SIZE, Codec, Footer
from lightningstor_storage.replicated.client import NodeError
from lightningstor_storage.replicated.cluster import Cluster
from lightningstor_storage.replicated.repair import CheckResult, Repairer

__all__ = ["ErasureRepairer", "read_range"]

log = logging.getLogger(__name__)

REBUILD_WINDOW_BYTES = 4 * 1024 * 1024
"""Fragment bytes fetched from each source at once by a rebuild."""


async def read_range(
    cluster: Cluster, address: str, chunk_id: str, offset: int, length: int
) -> bytes:
    """``length`` bytes of a node's copy from ``offset``, every piece checked (health kept)."""

    async def get(cl: object) -> bytes:
        client = cluster.clients[address]
        return b"".join([p async for p in client.get(chunk_id, offset, length)])

    return await cluster.call(address, get)


@dataclass(slots=True)
class _Fragment:
    address: str
    state: str  # good, missing, bad, unknown
    footer: Footer | None = None


class ErasureRepairer(Repairer):
    """The replicated repairer's passes and stats, with the fragment check and rebuild."""

    def __init__(self, cluster: Cluster, codec: Codec, pool: Executor, *, rate: int) -> None:
        super().__init__(cluster, rate=rate)
        self.codec = codec
        self.pool = pool

    async def check(
        self,
        chunk_id: str,
        expected: tuple[int, int] | None,
        hints: Sequence[str],
        verify: bool,
        *,
        repair: bool = True,
    ) -> CheckResult:
        """Find the chunk's fragments on every node; with ``repair`` rebuild the missing ones.

        ``good`` counts distinct good fragment indices, ``short`` the indices known to be
        missing: a node that does not answer may hold one of those with no good holder, so
        each such node leaves one of them unknown rather than missing.
        """
        c = self.cluster
        codec = self.codec
        found = await asyncio.gather(
            *(self._look_fragment(chunk_id, a, expected, verify) for a in c.nodes)
        )
        holders: dict[int, list[str]] = {}
        size_crc = expected
        for frag in found:
            if frag.state == "good" and frag.footer is not None:
                holders.setdefault(frag.footer.index, []).append(frag.address)
                size_crc = size_crc or (frag.footer.size, frag.footer.crc32c)
        bad = [f.address for f in found if f.state == "bad"]
        missing = [i for i in range(codec.n) if i not in holders]
        unknown = sum(1 for f in found if f.state == "unknown")
        result = CheckResult(
            good=len(holders),
            short=max(0, len(missing) - unknown),
            bad=len(bad),
            unknown=unknown,
        )
        st = self.stats
        st.replicas_corrupt += len(bad)
        if not repair:
            return result
        moving = [i for i, where in holders.items() if all(a in c.draining for a in where)]
        if not missing and not moving and verify and not result.unknown and not bad:
            moving = self._misplaced(chunk_id, holders)
        if not missing and not moving:
            return result
        if len(holders) < codec.k or size_crc is None:
            if not result.unknown:
                st.lost_chunk(chunk_id)
                log.error(
                    "repair: chunk %s has %d of %d fragments", chunk_id, len(holders), codec.k
                )
            return result
        st.backlog += 1
        st.replicas_missing += len(missing)
        for address in bad:  # a corrupt fragment goes first: its node may take a new one
            try:
                await c.call(address, lambda cl: cl.delete(chunk_id))
            except StorageError as exc:
                log.warning("repair: cannot delete chunk %s on %s: %s", chunk_id, address, exc)
        taken = {a for where in holders.values() for a in where}
        spare = [
            n.address for n in c.placement.targets(chunk_id, c.writable) if n.address not in taken
        ]
        spare += [
            n.address
            for n in c.placement.order(chunk_id)
            if c.writable(n) and n.address not in taken and n.address not in spare
        ]
        sources = {i: where[0] for i, where in holders.items()}
        done = 0
        for index in [*missing, *moving]:
            if not spare:
                log.warning("repair: no node can take fragment %d of chunk %s", index, chunk_id)
                break
            target = spare.pop(0)
            try:
                await self._rebuild(chunk_id, index, target, sources, size_crc)
            except StorageError as exc:
                st.errors += 1
                log.warning("repair: cannot rebuild chunk %s on %s: %s", chunk_id, target, exc)
                continue
            done += 1
            st.replicas_restored += 1
            log.info("repair: fragment %d of chunk %s rebuilt on %s", index, chunk_id, target)
            for address in holders.get(index, []):  # moved off draining nodes
                try:
                    await c.call(address, lambda cl: cl.delete(chunk_id))
                    st.replicas_trimmed += 1
                except StorageError as exc:
                    log.warning("repair: cannot delete chunk %s on %s: %s", chunk_id, address, exc)
        result.restored = done
        if done == len(missing) + len(moving):
            st.backlog -= 1
        return result

    def _misplaced(self, chunk_id: str, holders: dict[int, list[str]]) -> list[int]:
        """Indices of a whole chunk held only off its targets while targets hold none: after a
        node joins, HRW placement names it for some chunks, and their fragments move there."""
        c = self.cluster
        targets = {n.address for n in c.placement.targets(chunk_id, c.writable)}
        if len(targets) < self.codec.n:
            return []
        taken = {a for where in holders.values() for a in where}
        free = len(targets - taken)
        off = [i for i, where in sorted(holders.items()) if not targets & set(where)]
        return off[:free]

    async def _look_fragment(
        self, chunk_id: str, address: str, expected: tuple[int, int] | None, verify: bool
    ) -> _Fragment:
        c = self.cluster
        try:
            if verify:
                length, _ = await c.call(address, lambda cl: cl.verify(chunk_id))
                self.stats.bytes_verified += length
                await self.throttle.take(length)
            else:
                found = await c.call(address, lambda cl: cl.exists(chunk_id))
                if found is None:
                    return _Fragment(address, "missing")
                length = found
            if length < FOOTER_SIZE:
                raise ChunkCorrupt(f"{length} bytes")
            raw = await read_range(c, address, chunk_id, length - FOOTER_SIZE, FOOTER_SIZE)
            footer = Footer.unpack(raw)
        except ChunkNotFound:
            return _Fragment(address, "missing")
        except (ChunkCorrupt, ValueError) as exc:
            log.warning("repair: corrupt fragment of chunk %s on %s: %s", chunk_id, address, exc)
            return _Fragment(address, "bad")
        except (NodeError, StorageError):
            return _Fragment(address, "unknown")
        codec = self.codec
        fits = (footer.k, footer.m) == (codec.k, codec.m)
        fits = fits and codec.fits(length, footer.size)
        if expected is not None:
            fits = fits and (footer.size, footer.crc32c) == expected
        if not fits:
            log.warning("repair: fragment of chunk %s on %s does not fit it", chunk_id, address)
            return _Fragment(address, "bad", footer)
        return _Fragment(address, "good", footer)

    async def _rebuild(
        self,
        chunk_id: str,
        index: int,
        target: str,
        sources: dict[int, str],
        size_crc: tuple[int, int],
    ) -> None:
        """Fragment ``index`` from k others (copied, if a source holds it) onto ``target``."""
        c = self.cluster
        codec = self.codec
        size, chunk_crc = size_crc
        # the fragment itself (a drain) if a node has it, else data fragments first
        chosen = [i for i in sorted(sources) if i != index][: codec.k]
        if index in sources:
            chosen = [index]
        file_size = await c.call(sources[chosen[0]], lambda cl: cl.exists(chunk_id))
        if file_size is None:
            raise ChunkNotFound(f"chunk {chunk_id}: a source fragment is gone")
        layout = codec.layout(file_size)
        stripes = layout[0]
        per_window = max(1, REBUILD_WINDOW_BYTES // codec.fragment_size)
        loop = asyncio.get_running_loop()

        async def requests() -> AsyncIterator[pb.PutChunkRequest]:
            header = pb.PutChunkHeader(chunk_id=chunk_id, trailing=True)
            yield pb.PutChunkRequest(header=header)
            crc = 0
            for a in range(0, stripes, per_window):
                b = min(a + per_window, stripes)
                at, length = codec.span(a, b, layout)
                raws = await asyncio.gather(
                    *(read_range(c, sources[i], chunk_id, at, length) for i in chosen)
                )
                await self.throttle.take(sum(map(len, raws)))
                if len(chosen) == 1:
                    content = raws[0]
                else:
                    parts = [codec.split(r) for r in raws]
                    per_stripe = [[p[j] for p in parts] for j in range(b - a)]
                    content = await loop.run_in_executor(
                        self.pool, codec.reconstruct, a, per_stripe, index
                    )
                crc = crc32c(content, crc)
                yield pb.PutChunkRequest(content=content)
            footer = Footer(index, codec.k, codec.m, size, chunk_crc).pack()
            yield pb.PutChunkRequest(content=footer)
            trailer = pb.PutChunkTrailer(size=file_size, crc32c=crc32c(footer, crc))
            yield pb.PutChunkRequest(trailer=trailer)

        await c.call(target, lambda cl: cl.put_stream(requests()))
