"""The runtime records under ``iam/``, merged with the ``[iam]`` bootstrap into the engine.

Every server holds the whole set (a few records per tenant) and rebuilds the
:class:`PolicyEngine` of its :class:`EmbeddedAuthorizer` from it: at start, after its own
writes (so a server reads what it wrote), on every watch event under the prefix, and at least
every ``metadata.cache_ttl_seconds`` regardless, which bounds staleness while a watch is
broken. A rebuild swaps the engine in one assignment, so a decision sees one whole set.

Precedence: the TOML section is the bootstrap and always holds; runtime records add to it.
A runtime role may not take the name of a built-in or configured role, and runtime groups
belong to one org and are named only by runtime bindings of that org, so nothing made at
runtime changes what a configured binding means.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from lightningstor.meta.v1 import records_pb2
from lightningstor_api.core.keys import KeySchema
from lightningstor_api.core.watched_cache import watch_forever
from lightningstor_api.iam.embedded import EmbeddedAuthorizer
from lightningstor_api.iam.policy import Binding, PolicyEngine
from lightningstor_api.metadata import MetadataStore
from lightningstor_api.tasks import cancel, log_failure
from lightningstor_types.config import IamSettings
from lightningstor_types.spans import background

log = logging.getLogger(__name__)

_PAGE = 500
DEFAULT_RESYNC_SECONDS = 30.0


@dataclass(slots=True)
class RuntimeRecords:
    """What is stored under ``iam/``, parsed."""

    roles: dict[str, records_pb2.IamRoleRecord] = field(default_factory=dict)
    groups: dict[tuple[str, str], records_pb2.IamGroupRecord] = field(default_factory=dict)
    bindings: dict[tuple[str, str], records_pb2.IamBindingRecord] = field(default_factory=dict)


def expand(record: records_pb2.IamBindingRecord, records: RuntimeRecords) -> list[Binding]:
    """The engine's bindings for one runtime binding (one per member when it names a group)."""
    project = record.project or None
    bucket = record.bucket or None
    if not record.group:
        return [Binding(record.principal, record.role, record.org, project, bucket)]
    group = records.groups.get((record.org, record.group))
    members = group.members if group is not None else ()
    return [
        Binding(m, record.role, record.org, project, bucket, group=record.group) for m in members
    ]


def build_engine(settings: IamSettings, records: RuntimeRecords) -> PolicyEngine:
    """The bootstrap engine plus the runtime records (a binding whose role is gone is skipped)."""
    base = PolicyEngine.from_settings(settings)
    roles: dict[str, tuple[str, ...]] = {
        name: tuple(r.actions) for name, r in records.roles.items() if name not in base.roles
    }
    roles.update(base.roles)
    bindings = list(base.bindings)
    for record in records.bindings.values():
        if record.role not in roles:
            log.warning("runtime binding %s names unknown role %r", record.id, record.role)
            continue
        bindings.extend(expand(record, records))
    return PolicyEngine(roles, bindings, ttl_seconds=settings.decision_cache_ttl_seconds)


class TenantDirectory:
    """Keeps ``authorizer.engine`` equal to bootstrap + runtime records."""

    def __init__(
        self,
        store: MetadataStore,
        keys: KeySchema,
        settings: IamSettings,
        authorizer: EmbeddedAuthorizer,
        *,
        resync_seconds: float = DEFAULT_RESYNC_SECONDS,
    ) -> None:
        self._store = store
        self._keys = keys
        self._settings = settings
        self._authorizer = authorizer
        self._resync = resync_seconds if resync_seconds > 0 else 1.0
        self._changed = asyncio.Event()
        self._lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self.records = RuntimeRecords()

    @property
    def settings(self) -> IamSettings:
        return self._settings

    @property
    def engine(self) -> PolicyEngine:
        return self._authorizer.engine

    async def reload(self) -> None:
        """Read every runtime record and swap in the engine they make with the bootstrap."""
        async with self._lock:
            records = await self._read()
            engine = build_engine(self._settings, records)
            self.records = records
            self._authorizer.engine = engine

    async def start(self) -> None:
        with background("tenants.load"):
            await self.reload()
        self._tasks = [
            asyncio.create_task(self._watch(), name="tenants-watch"),
            asyncio.create_task(self._refresh(), name="tenants-refresh"),
        ]

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            await cancel(task)

    async def _read(self) -> RuntimeRecords:
        prefix = self._keys.iam_prefix()
        roles_p = self._keys.iam_roles_prefix()
        groups_p = self._keys.iam_groups_prefix()
        bindings_p = self._keys.iam_bindings_prefix()
        out = RuntimeRecords()
        start: bytes | None = None
        while True:
            page = await self._store.range(prefix, start=start, limit=_PAGE)
            for kv in page.kvs:
                if kv.key.startswith(roles_p):
                    role = records_pb2.IamRoleRecord.FromString(kv.value)
                    out.roles[role.name] = role
                elif kv.key.startswith(groups_p):
                    group = records_pb2.IamGroupRecord.FromString(kv.value)
                    out.groups[(group.org, group.name)] = group
                elif kv.key.startswith(bindings_p):
                    binding = records_pb2.IamBindingRecord.FromString(kv.value)
                    out.bindings[(binding.org, binding.id)] = binding
            if not page.more or not page.kvs:
                return out
            start = page.kvs[-1].key + b"\x00"

    async def _refresh(self) -> None:
        """Rebuild on each change the watch reports, and every ``resync`` seconds anyway."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=self._resync)
            self._changed.clear()
            try:
                with background("tenants.reload"):
                    await self.reload()
            except asyncio.CancelledError:
                raise
            except Exception:  # the store unreachable: keep the last engine, try again
                log_failure(log, "tenant records could not be read; keeping the last ones")

    async def _watch(self) -> None:
        await watch_forever(
            self._store,
            self._keys.iam_prefix(),
            lambda _key: self._changed.set(),
            self._changed.set,  # whatever changed while the watch was down
            "tenants",
        )
