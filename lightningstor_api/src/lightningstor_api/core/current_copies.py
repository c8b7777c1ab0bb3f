"""Current copies against versions: one walk of the consistency check, and its repair.

``objects/…/{key}`` must hold the key's newest version, byte for byte, when that version is not
a delete marker, and be absent otherwise (:mod:`.versions`). The walk merges the ``objects/``
and ``versions/`` ranges, both ordered by object path (object keys hold no NUL, the separator of
a key and its version ids), so it streams and holds one key at a time. A key that disagrees is
read again on its own before it is reported, so a write that raced the walk is no finding.
Repair writes the newest version's copy, or deletes the copy, in a transaction that compares
the copy and the newest version as read (and that nothing newer appeared), as every write does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from lightningstor.meta.v1 import records_pb2
from lightningstor_api.core import orphans
from lightningstor_api.core.context import CoreContext
from lightningstor_api.core.keys import SEP
from lightningstor_api.core.versions import MAX_ATTEMPTS, backoff
from lightningstor_api.metadata import Compare, Delete, KeyValue, Op, Put, prefix_end


@dataclass(frozen=True, slots=True)
class KeyState:
    """One object path (``{org}/{project or _}/{bucket}/{key}``): its current copy and its
    newest version record, as read."""

    path: bytes
    current: KeyValue | None
    newest: KeyValue | None

    def disagreement(self) -> str:
        """Why the current copy is wrong ("" when it is right)."""
        if self.newest is None:
            return "a current copy but no version" if self.current is not None else ""
        rec = records_pb2.ObjectRecord.FromString(self.newest.value)
        if rec.is_delete_marker:
            if self.current is None:
                return ""
            return f"a current copy under delete marker {rec.version_id}"
        if self.current is None:
            return f"no current copy of newest version {rec.version_id}"
        if records_pb2.ObjectRecord.FromString(self.current.value) != rec:
            return f"the current copy differs from newest version {rec.version_id}"
        return ""


async def walk(cc: CoreContext) -> AsyncIterator[KeyState]:
    """Every object path that has a current copy or a version, in path order."""
    currents = _currents(cc)
    newests = _newests(cc)
    cur = await anext(currents, None)
    new = await anext(newests, None)
    while cur is not None or new is not None:
        if new is None or (cur is not None and cur[0] < new[0]):
            assert cur is not None
            yield KeyState(cur[0], cur[1], None)
            cur = await anext(currents, None)
        elif cur is None or new[0] < cur[0]:
            yield KeyState(new[0], None, new[1])
            new = await anext(newests, None)
        else:
            yield KeyState(cur[0], cur[1], new[1])
            cur = await anext(currents, None)
            new = await anext(newests, None)


async def read(cc: CoreContext, path: bytes) -> KeyState:
    """One object path's state, read afresh."""
    current = await cc.store.get(cc.keys.all_objects_prefix() + path)
    page = await cc.store.range(_versions_prefix(cc, path), limit=1)
    return KeyState(path, current, page.kvs[0] if page.kvs else None)


async def repair(cc: CoreContext, path: bytes) -> str:
    """Make the current copy of ``path`` agree with its newest version: what was done, or ""
    when it kept changing (the key is busy: its writers keep it right)."""
    obj_key = cc.keys.all_objects_prefix() + path
    prefix = _versions_prefix(cc, path)
    for attempt in range(MAX_ATTEMPTS):
        state = await read(cc, path)
        if not state.disagreement():
            return "agrees now"
        newest = state.newest
        compares = [
            Compare.mod_revision(obj_key, state.current.mod_revision if state.current else 0),
            Compare.none_in(prefix, newest.key if newest is not None else prefix_end(prefix)),
        ]
        op: Op = Delete(obj_key)
        done = "deleted the current copy"
        if newest is not None:
            compares.append(Compare.mod_revision(newest.key, newest.mod_revision))
            if not records_pb2.ObjectRecord.FromString(newest.value).is_delete_marker:
                op = Put(obj_key, newest.value)
                done = "rewrote the current copy"
        if (await cc.store.txn(compares, [op])).succeeded:
            return done
        await backoff(attempt)
    return ""


def _versions_prefix(cc: CoreContext, path: bytes) -> bytes:
    return cc.keys.all_versions_prefix() + path + SEP


async def _currents(cc: CoreContext) -> AsyncIterator[tuple[bytes, KeyValue]]:
    root = cc.keys.all_objects_prefix()
    async for kv in orphans.scan_prefix(cc, root):
        yield kv.key[len(root) :], kv


async def _newests(cc: CoreContext) -> AsyncIterator[tuple[bytes, KeyValue]]:
    """Each object path's first (newest) version record."""
    root = cc.keys.all_versions_prefix()
    last: bytes | None = None
    async for kv in orphans.scan_prefix(cc, root):
        path = kv.key[len(root) : kv.key.rindex(SEP)]
        if path != last:
            last = path
            yield path, kv
