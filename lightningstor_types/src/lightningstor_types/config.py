"""The one configuration model of LightningStor (docs/architecture.md §8).

``Settings`` configures the server, ``StorageNodeSettings`` a storage node. Each process reads
its values from these sources, highest priority first::

    init kwargs (the command-line flags, see ``config_loader``)
    LIGHTNINGSTOR_* environment, nested with "__"     LIGHTNINGSTOR_STORAGE__CHUNK_SIZE=16MiB
    the short names of the platform spec               LIGHTNINGSTOR_LOG_LEVEL, _GRPC_ADDR, ...
    the TOML file named by LIGHTNINGSTOR_CONFIG        (or --config on the command line)
    defaults                                           the embedded single-node setup

Every section forbids unknown fields, so a typo fails loudly instead of being ignored. Sizes
accept bytes or a unit (``"8MiB"``, ``"5 GiB"``; ``KB``/``MB`` are decimal, ``KiB``/``MiB``
binary); durations accept seconds or a unit (``"90s"``, ``"6h"``, ``"7d"``, ``"1h30m"``).
Relative paths are relative to the working directory. Files named here (certificates, keys)
are checked by the code that opens them, not at load time. Settings are immutable once loaded.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    InitSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from lightningstor_types import config_spec
from lightningstor_types.naming import STORAGE_CLASSES
from lightningstor_types.signing import DEFAULT_WINDOW_SECONDS
from lightningstor_types.units import (
    GiB,
    KiB,
    MiB,
    TiB,
    format_size,
    parse_duration,
    parse_size,
)

__all__ = [
    "BUILTIN_ROLES",
    "CONFIG_ENV_VAR",
    "ENV_PREFIX",
    "BindingSettings",
    "CertificatePrincipalSettings",
    "ClientTlsSettings",
    "ConnectionSettings",
    "DistributedSettings",
    "FieldError",
    "GiB",
    "IamSettings",
    "KiB",
    "LimitsSettings",
    "LoggingSettings",
    "MetadataSettings",
    "MetricsSettings",
    "MiB",
    "NodeSettings",
    "S3Settings",
    "ServerSettings",
    "ServerTlsSettings",
    "Settings",
    "SettingsBase",
    "StorageNodeSettings",
    "StorageSettings",
    "TiB",
    "TlsSettings",
    "TracingSettings",
    "format_size",
    "is_action_pattern",
    "parse_duration",
    "parse_size",
    "split_address",
    "usable_cpus",
]

ENV_PREFIX = "LIGHTNINGSTOR_"
CONFIG_ENV_VAR = "LIGHTNINGSTOR_CONFIG"
"""Names the TOML file; ``--config`` on the command line takes precedence."""


class FieldError(ValueError):
    """A cross-field check that failed; ``at`` is the failing field, relative to the model.

    Pydantic reports a model validator's error at the model itself; the loader appends ``at``
    so the message names the field an operator has to change (``metadata.endpoints``).
    """

    def __init__(self, at: str | tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.at: tuple[str | int, ...] = (at,) if isinstance(at, str) else at


def _size_between(low: int, high: int) -> AfterValidator:
    def check(size: int) -> int:
        if not low <= size <= high:
            raise ValueError(
                f"must be between {format_size(low)} and {format_size(high)}, "
                f"got {format_size(size)}"
            )
        return size

    return AfterValidator(check)


_HOSTNAME_RE = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?")


def split_address(addr: str) -> tuple[str, int]:
    """``"host:port"`` → ``(host, port)``; an IPv6 host is written ``[::1]:9000``, returned bare.

    Raises ``ValueError`` with an operator-readable message.
    """
    expected = f"invalid address {addr!r}: expected host:port, e.g. 0.0.0.0:9000 or [::1]:9000"
    if addr.startswith("["):
        host, sep, port_text = addr[1:].partition("]:")
        if not sep:
            raise ValueError(expected)
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"invalid address {addr!r}: {host!r} is no IPv6 address") from None
    else:
        host, sep, port_text = addr.rpartition(":")
        if not sep or not host:
            raise ValueError(expected)
        if ":" in host:
            raise ValueError(
                f"invalid address {addr!r}: write an IPv6 host in brackets, [::1]:9000"
            )
        if not _HOSTNAME_RE.fullmatch(host):
            raise ValueError(f"invalid address {addr!r}: {host!r} is no host name or IP address")
    if not (port_text.isascii() and port_text.isdigit()) or int(port_text) > 65535:
        raise ValueError(f"invalid address {addr!r}: the port must be a number from 0 to 65535")
    return host, int(port_text)


def _check_address(addr: str) -> str:
    split_address(addr)
    return addr


def _split_list(value: object) -> object:
    """A list from the environment: a JSON array, or comma-separated items."""
    if not isinstance(value, str):
        return value
    if value.lstrip().startswith("["):
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"invalid JSON list {value!r}: {exc}") from exc
    return [item.strip() for item in value.split(",") if item.strip()]


def _expand_user(path: Path) -> Path:
    return path.expanduser()


def _lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


def _network(value: object) -> object:
    if isinstance(value, str):
        return ipaddress.ip_network(value.strip(), strict=False)
    return value


Network = Annotated[ipaddress.IPv4Network | ipaddress.IPv6Network, BeforeValidator(_network)]
NetworkList = Annotated[list[Network], NoDecode, BeforeValidator(_split_list)]
"""CIDR blocks (a bare address is its /32 or /128), a list or comma-separated."""
Address = Annotated[str, AfterValidator(_check_address)]
"""``host:port``; port 0 lets the OS choose (tests)."""
AddressList = Annotated[list[Address], NoDecode, BeforeValidator(_split_list)]
ByteCount = Annotated[int, BeforeValidator(parse_size), Field(gt=0)]
Seconds = Annotated[float, BeforeValidator(parse_duration), Field(ge=0)]
PositiveSeconds = Annotated[float, BeforeValidator(parse_duration), Field(gt=0)]
UserPath = Annotated[Path, AfterValidator(_expand_user)]
"""A path; ``~`` expands, existence is checked by whoever opens it."""
Workers = Annotated[int, Field(ge=1, le=64)]
_MAX_WORKERS = 64


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask: a container's cpuset, ``taskset``),
    within the bounds of :data:`Workers`. A CFS quota (``cpu.max``) is not an affinity: it is
    not seen here."""
    try:
        count = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        count = os.cpu_count() or 1
    return max(1, min(count, _MAX_WORKERS))


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


# --- TLS -------------------------------------------------------------------------------------


class TlsSettings(_Section):
    """A TLS listener."""

    cert_file: UserPath
    """Certificate chain (PEM)."""
    key_file: UserPath
    """Private key of the certificate (PEM)."""
    ca_file: UserPath | None = None
    """CA bundle (PEM); when set, clients must present a certificate it signed (mTLS)."""
    min_version: Literal["1.2", "1.3"] = "1.2"
    """Oldest TLS version accepted."""


class CertificatePrincipalSettings(_Section):
    """A client certificate that authenticates gRPC calls as a principal (mutual TLS)."""

    subject_cn: str | None = Field(default=None, min_length=1)
    """The certificate's subject common name, exactly."""
    san: str | None = Field(default=None, min_length=1)
    """One of its subject alternative names (DNS name, URI, e-mail or IP), exactly."""
    principal: str
    """The principal it is: "org/id" or "org/project/id"."""

    @model_validator(mode="after")
    def _check(self) -> CertificatePrincipalSettings:
        if (self.subject_cn is None) == (self.san is None):
            raise FieldError("subject_cn", "set exactly one of subject_cn and san")
        parts = self.principal.split("/")
        if len(parts) not in (2, 3) or "" in parts:
            raise FieldError(
                "principal", f'must be "org/id" or "org/project/id", got {self.principal!r}'
            )
        return self


class ServerTlsSettings(TlsSettings):
    """The server's listeners; client certificates may name principals on gRPC."""

    principals: list[CertificatePrincipalSettings] = Field(default_factory=list)
    """gRPC: client certificates (subject CN or SAN) → principal; needs ca_file."""

    @model_validator(mode="after")
    def _principals_need_mtls(self) -> ServerTlsSettings:
        if self.principals and self.ca_file is None:
            raise FieldError("principals", "need ca_file (clients must present certificates)")
        return self


class ClientTlsSettings(_Section):
    """TLS toward a service we call (etcd, storage nodes, the IAM); an empty table = system CAs."""

    ca_file: UserPath | None = None
    """CA bundle (PEM) that signs the server's certificate; unset = the system trust store."""
    cert_file: UserPath | None = None
    """Client certificate (PEM) for mutual TLS; needs key_file."""
    key_file: UserPath | None = None
    """Private key of the client certificate (PEM); needs cert_file."""

    @model_validator(mode="after")
    def _cert_and_key(self) -> ClientTlsSettings:
        if self.cert_file is not None and self.key_file is None:
            raise FieldError("key_file", "required when cert_file is set")
        if self.key_file is not None and self.cert_file is None:
            raise FieldError("cert_file", "required when key_file is set")
        return self


# --- sections of Settings --------------------------------------------------------------------


class ServerSettings(_Section):
    grpc_addr: Address = "0.0.0.0:9001"
    """Where the gRPC API listens."""
    s3_addr: Address = "0.0.0.0:9000"
    """Where the S3 API listens."""
    data_dir: UserPath = Path("./data")
    """Root of everything stored locally (metadata.db, chunks, secret.key) unless set apart."""
    s3_workers: Workers = 1
    """uvicorn worker processes of the stand-alone S3 gateway (a server's own processes are
    ``processes``)."""
    processes: Workers = Field(default_factory=usable_cpus)
    """Server processes sharing the S3 and gRPC addresses (SO_REUSEPORT) and the data directory;
    default: one per usable CPU (the affinity mask); 1 = one process, no supervisor."""
    shutdown_grace_seconds: Seconds = 10.0
    """On SIGTERM, how long in-flight calls may take before they are cut."""
    tls: ServerTlsSettings | None = None
    """TLS for both listeners; absent = plain TCP."""
    trusted_proxies: NetworkList = Field(default_factory=list)
    """Peers (CIDR blocks) whose X-Forwarded-For / X-Forwarded-Proto give an S3 request's client
    address and scheme (aws:SourceIp, aws:SecureTransport); empty = trust no header."""
    trusted_gateways: NetworkList = Field(default_factory=list)
    """Peers (CIDR blocks) of the gRPC API whose x-lightningstor-client-* call metadata give the
    S3 client a stand-alone gateway forwards for (aws:SourceIp, aws:SecureTransport,
    aws:UserAgent, aws:Referer, s3:authType, s3:signatureversion); empty = trust none."""
    proxy_protocol: bool = False
    """The S3 listener reads a PROXY protocol header (v1 or v2) first on every connection, and
    accepts connections only from trusted_proxies; the address it carries is the client's."""

    @model_validator(mode="after")
    def _proxy_protocol_needs_proxies(self) -> ServerSettings:
        if self.proxy_protocol and not self.trusted_proxies:
            raise FieldError("proxy_protocol", "needs trusted_proxies (the balancers that send it)")
        if self.proxy_protocol and self.tls is not None:
            # The header comes before the TLS handshake, which asyncio runs before the
            # protocol sees a byte: it would never be read.
            raise FieldError("proxy_protocol", "cannot be combined with [server.tls]")
        return self


class MetadataSettings(_Section):
    backend: Literal["embedded", "etcd"] = "embedded"
    """embedded = SQLite in this process (one server); etcd = shared by every server."""
    path: UserPath | None = None
    """The embedded SQLite file; default {server.data_dir}/metadata.db."""
    endpoints: AddressList = Field(
        default_factory=list, validation_alias=AliasChoices("endpoints", "chainfire_endpoints")
    )
    """etcd host:port list (alias: chainfire_endpoints); required for backend etcd."""
    tls: ClientTlsSettings | None = None
    """TLS toward etcd; absent = plain TCP."""
    username: str | None = None
    """etcd user (etcd authentication); needs password."""
    password: SecretStr | None = None
    """Password of the etcd user."""
    timeout_seconds: PositiveSeconds = 5.0
    """Deadline of one etcd request."""
    prefix: str = "lightningstor/"
    """Key prefix of all our records, so several stores can share one etcd."""
    cache_ttl_seconds: Seconds = 30.0
    """Longest a cached bucket or credential record is used (watch invalidates sooner); 0 = off."""
    retained_revisions: int = Field(default=10_000, ge=0)
    """etcd: revisions of history kept; the server compacts older ones as it writes (0 = never:
    etcd's --auto-compaction must then bound it)."""

    @model_validator(mode="before")
    @classmethod
    def _one_endpoint_name(cls, data: object) -> object:
        if isinstance(data, Mapping) and "endpoints" in data and "chainfire_endpoints" in data:
            raise FieldError(
                "chainfire_endpoints", "set endpoints or chainfire_endpoints, not both"
            )
        return data

    @model_validator(mode="after")
    def _check(self) -> MetadataSettings:
        if self.backend == "etcd" and not self.endpoints:
            raise FieldError("endpoints", 'backend "etcd" needs at least one endpoint (host:port)')
        if (self.username is None) != (self.password is None):
            missing = "password" if self.password is None else "username"
            raise FieldError(missing, "username and password must be set together")
        if not self.prefix.endswith("/"):
            raise FieldError("prefix", f'must end with "/", got {self.prefix!r}')
        return self

    def embedded_path(self, settings: Settings) -> Path:
        """The SQLite file of the embedded backend."""
        return self.path if self.path is not None else settings.server.data_dir / "metadata.db"


class NodeSettings(_Section):
    """One storage node, as the servers see it."""

    address: Address
    """Where the node listens (its listen_addr, as reachable from the servers)."""
    zone: str | None = None
    """Failure domain (rack, room, availability zone); replicas spread across zones."""
    weight: float = Field(default=1.0, gt=0)
    """Relative share of chunks the node receives (e.g. its capacity in TiB)."""


class DistributedSettings(_Section):
    nodes: list[NodeSettings] = Field(default_factory=list)
    """The storage nodes; at least replication_factor of them for backend distributed."""
    replication_factor: int = Field(default=3, ge=1, le=7)
    """Copies of every chunk."""
    write_quorum: int | None = Field(default=None, ge=1)
    """Copies fsynced before a write succeeds; default the majority of replication_factor."""
    placement_strategy: Literal["consistent_hash", "zone_aware", "random"] = "consistent_hash"
    """How chunks choose their nodes (zone_aware needs a zone on every node)."""
    request_timeout_seconds: PositiveSeconds = 30.0
    """Deadline of one request to a storage node."""
    node_down_backoff_seconds: PositiveSeconds = 10.0
    """How long a node that failed is skipped before it is tried again."""
    scrub_rate_bytes_per_second: Annotated[int, BeforeValidator(parse_size), Field(ge=0)] = 32 * MiB
    """Read rate of the background scrub and re-replication; 0 = scrubbing off."""
    tls: ClientTlsSettings | None = None
    """TLS toward the storage nodes; absent = plain TCP."""
    policy: Literal["replicated", "erasure"] = "replicated"
    """How chunks of a storage class that storage_class_policies does not name are stored:
    replicated = replication_factor copies of each chunk; erasure = Reed-Solomon fragments."""
    storage_class_policies: dict[str, Literal["replicated", "erasure"]] = Field(
        default_factory=dict
    )
    """The policy of each storage class named here (e.g. STANDARD_IA = "erasure"); the others
    take ``policy``. Each chunk records its policy: changing this never strands a chunk."""
    erasure_min_chunk_bytes: Annotated[int, BeforeValidator(parse_size), Field(ge=0)] = 0
    """Chunks smaller than this are replicated even where the policy is erasure (0 = none)."""
    erasure_data_fragments: int = Field(default=4, ge=2, le=16)
    """Erasure policy: the k data fragments a chunk is cut into (any k of k + m rebuild it)."""
    erasure_parity_fragments: int = Field(default=2, ge=1, le=8)
    """Erasure policy: the m parity fragments (m nodes may be lost)."""
    erasure_write_margin: int = Field(default=1, ge=1)
    """Erasure policy: fragments beyond k fsynced before a write succeeds (at most m)."""
    erasure_hedge_after_seconds: PositiveSeconds = 0.5
    """Erasure policy: a fragment read not answered by then gets a hedged read of another."""

    def policy_for(self, storage_class: str) -> Literal["replicated", "erasure"]:
        """The policy new chunks of ``storage_class`` are written with."""
        return self.storage_class_policies.get(storage_class, self.policy)

    @property
    def erasure_in_use(self) -> bool:
        """Whether any storage class writes erasure-coded chunks."""
        return self.policy == "erasure" or "erasure" in self.storage_class_policies.values()

    @property
    def effective_write_quorum(self) -> int:
        """write_quorum, or the majority of replication_factor when unset."""
        if self.write_quorum is not None:
            return self.write_quorum
        return self.replication_factor // 2 + 1

    @model_validator(mode="after")
    def _check(self) -> DistributedSettings:
        if self.write_quorum is not None and self.write_quorum > self.replication_factor:
            raise FieldError(
                "write_quorum",
                f"must be at most replication_factor ({self.replication_factor}), "
                f"got {self.write_quorum}",
            )
        seen: set[str] = set()
        for i, node in enumerate(self.nodes):
            if node.address in seen:
                raise FieldError(("nodes", i, "address"), f"duplicate node {node.address}")
            seen.add(node.address)
            if self.placement_strategy == "zone_aware" and not node.zone:
                raise FieldError(("nodes", i, "zone"), 'required by placement "zone_aware"')
        for name in self.storage_class_policies:
            if name not in STORAGE_CLASSES:
                raise FieldError(
                    ("storage_class_policies", name),
                    f"not an S3 storage class (one of {', '.join(sorted(STORAGE_CLASSES))})",
                )
        if self.erasure_in_use:
            self._check_erasure()
        return self

    def _check_erasure(self) -> None:
        k, m = self.erasure_data_fragments, self.erasure_parity_fragments
        if self.erasure_write_margin > m:
            raise FieldError(
                "erasure_write_margin",
                f"must be at most erasure_parity_fragments ({m}), got {self.erasure_write_margin}",
            )
        if self.nodes and len(self.nodes) < k + m:
            raise FieldError(
                "nodes", f"erasure {k}+{m} needs at least {k + m} nodes, got {len(self.nodes)}"
            )
        sizes: dict[str, int] = {}
        for node in self.nodes:
            if node.zone:
                sizes[node.zone] = sizes.get(node.zone, 0) + 1
        if not sizes:
            return
        if self.placement_strategy != "zone_aware":
            raise FieldError(
                "placement_strategy",
                'erasure coding over zones needs "zone_aware" placement, so that the loss '
                f"of one zone loses at most {m} fragments",
            )
        # zone_aware deals fragments one per zone and round while a zone has nodes left
        taken = dict.fromkeys(sizes, 0)
        dealt = 0
        while dealt < k + m:
            for zone in sizes:
                if dealt < k + m and taken[zone] < sizes[zone]:
                    taken[zone] += 1
                    dealt += 1
        zone, most = max(taken.items(), key=lambda item: item[1])
        if most > m:
            raise FieldError(
                "nodes",
                f"erasure {k}+{m} over these zones puts {most} fragments of a chunk in zone "
                f"{zone!r}, more than the {m} a chunk can lose: add zones or nodes in the "
                "smaller zones, or parity",
            )


INLINE_MAX_BYTES_LIMIT = 64 * KiB
"""Largest ``storage.inline_max_bytes``: an inline record stays far below etcd's 1.5 MiB."""


class StorageSettings(_Section):
    backend: Literal["local", "distributed"] = "local"
    """local = chunk files under local_dir; distributed = replicated over storage nodes."""
    chunk_size: Annotated[ByteCount, _size_between(MiB, 64 * MiB)] = 8 * MiB
    """Size of the chunks objects are cut into (1 MiB to 64 MiB)."""
    inline_max_bytes: Annotated[
        int, BeforeValidator(parse_size), _size_between(0, INLINE_MAX_BYTES_LIMIT)
    ] = 4 * KiB
    """PutObject bodies up to this size are kept in their metadata record, not in a chunk
    (0 = never; at most 64 KiB, so a record stays far inside etcd's request limit)."""
    local_dir: UserPath | None = None
    """Directory of the local backend's chunks; default {server.data_dir}."""
    shard_depth: int = Field(default=2, ge=0, le=4)
    """Local backend: levels of two-hex-digit directories above each chunk file (2 =
    chunks/ab/cd/abcd…); fixed once chunks are stored."""
    gc_grace_seconds: Seconds = 6 * 3600.0
    """Age before an unreferenced chunk is swept; keep it above the longest single upload."""
    gc_interval_seconds: PositiveSeconds = 60.0
    """Pause between garbage collection passes."""
    distributed: DistributedSettings = Field(default_factory=DistributedSettings)
    """The replicated backend."""

    @model_validator(mode="after")
    def _check(self) -> StorageSettings:
        dist = self.distributed
        if self.backend == "distributed" and len(dist.nodes) < dist.replication_factor:
            raise FieldError(
                ("distributed", "nodes"),
                f'backend "distributed" needs at least replication_factor '
                f"({dist.replication_factor}) nodes, got {len(dist.nodes)}",
            )
        return self

    def local_path(self, settings: Settings) -> Path:
        """Root of the local backend (chunks live under ``{root}/chunks``)."""
        return self.local_dir if self.local_dir is not None else settings.server.data_dir


BUILTIN_ROLES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "admin": ("lightningstor:*",),
        "editor": (
            "lightningstor:buckets:*",
            "lightningstor:objects:*",
            "lightningstor:uploads:*",
            "lightningstor:usage:read",
        ),
        "viewer": (
            "lightningstor:buckets:get",
            "lightningstor:buckets:list",
            "lightningstor:buckets:versioning:read",
            "lightningstor:buckets:tagging:read",
            "lightningstor:buckets:cors:read",
            "lightningstor:objects:get",
            "lightningstor:objects:list",
            "lightningstor:objects:tagging:read",
            "lightningstor:uploads:list",
            "lightningstor:usage:read",
        ),
    }
)
"""Roles of the embedded policy engine that exist without configuration; iam.roles adds more.

Patterns match action names as shell-style globs: ``*`` matches any rest, ``:`` included.
"""

_ACTION_PATTERN_RE = re.compile(r"\*|lightningstor:[A-Za-z0-9_*-]+(:[A-Za-z0-9_*-]+)*")


def is_action_pattern(pattern: str) -> bool:
    """Whether ``pattern`` is an action pattern a role may hold (``lightningstor:objects:*``)."""
    return _ACTION_PATTERN_RE.fullmatch(pattern) is not None


class BindingSettings(_Section):
    """Grants a role to a principal, or to every member of a group, within an org [/project]."""

    principal: str | None = Field(default=None, min_length=1)
    """Principal: "id" (home = the binding's org/project), "org/id" or "org/project/id"."""
    group: str | None = Field(default=None, min_length=1)
    """A group of iam.groups instead of one principal (set exactly one of the two)."""
    role: str = Field(min_length=1)
    """A built-in role (admin, editor, viewer) or one of iam.roles."""
    org: str = Field(min_length=1)
    """Org the grant applies to; "*" = every org."""
    project: str | None = None
    """Project the grant is limited to; unset = the whole org."""
    bucket: str | None = None
    """Bucket (of the org, or of the project when set) the grant is limited to; unset = all."""

    @model_validator(mode="after")
    def _one_grantee(self) -> BindingSettings:
        if (self.principal is None) == (self.group is None):
            raise FieldError("principal", "set exactly one of principal and group")
        return self


class IamSettings(_Section):
    mode: Literal["embedded", "external"] = "embedded"
    """embedded = the policy engine in this process (roles, bindings); external = an IAM service."""
    endpoint: Address | None = None
    """host:port of the external IAM's gRPC service; required for mode external."""
    tls: ClientTlsSettings | None = None
    """TLS toward the external IAM; absent = plain TCP."""
    token_path: UserPath | None = None
    """Service-account token file sent to the IAM (re-read when it changes)."""
    jwks_url: str | None = None
    """Where the keys that sign gRPC bearer tokens are published; default: asked of the IAM."""
    issuer: str | None = None
    """Required "iss" of bearer tokens; unset = not checked."""
    audience: str | None = None
    """Required "aud" of bearer tokens; unset = not checked."""
    decision_cache_ttl_seconds: Annotated[Seconds, Field(le=300)] = 5.0
    """Longest an IAM decision is reused (0 = ask every time); the IAM may say shorter."""
    timeout_seconds: PositiveSeconds = 2.0
    """Deadline of one IAM call; on timeout the call is denied."""
    grpc_signature_window_seconds: Annotated[int, Field(ge=5, le=900)] = DEFAULT_WINDOW_SECONDS
    """gRPC access-key signatures: accepted this far from the server's clock, and remembered
    (refused a second time) this long."""
    grpc_nonce_capacity: Annotated[int, Field(ge=1000)] = 1_000_000
    """Most signatures one server process remembers; beyond it new ones are refused
    (SlowDown) until old ones leave the window."""
    secret_key_file: UserPath | None = None
    """Key that encrypts stored S3 secrets; default {server.data_dir}/secret.key (made at start)."""
    secret_key: SecretStr | None = None
    """The same key inline (prefer secret_key_file or the environment); excludes secret_key_file."""
    roles: dict[str, list[str]] = Field(default_factory=dict)
    """Embedded engine: role → action patterns (lightningstor:objects:*); adds to BUILTIN_ROLES."""
    groups: dict[str, list[str]] = Field(default_factory=dict)
    """Embedded engine: group → members, each written like a binding's principal."""
    bindings: list[BindingSettings] = Field(default_factory=list)
    """Embedded engine: who (a principal or a group) holds which role where."""
    max_bindings_per_org: Annotated[int, Field(ge=1, le=100_000)] = 1000
    """Embedded engine: most bindings made at runtime in one org ("*" counts as one)."""
    max_groups_per_org: Annotated[int, Field(ge=1, le=10_000)] = 100
    """Embedded engine: most groups made at runtime in one org."""

    @model_validator(mode="after")
    def _check(self) -> IamSettings:
        if self.mode == "external" and self.endpoint is None:
            raise FieldError("endpoint", 'required for mode "external" (host:port of the IAM)')
        if self.secret_key is not None and self.secret_key_file is not None:
            raise FieldError("secret_key", "set secret_key or secret_key_file, not both")
        if self.jwks_url is not None and not self.jwks_url.startswith(("https://", "http://")):
            raise FieldError("jwks_url", f"must be an http(s) URL, got {self.jwks_url!r}")
        for role, patterns in self.roles.items():
            for i, pattern in enumerate(patterns):
                if not is_action_pattern(pattern):
                    raise FieldError(
                        ("roles", role, i),
                        f"invalid action pattern {pattern!r}, e.g. lightningstor:objects:*",
                    )
        known = self.effective_roles()
        for i, binding in enumerate(self.bindings):
            if binding.role not in known:
                raise FieldError(
                    ("bindings", i, "role"),
                    f"unknown role {binding.role!r}; known: {', '.join(sorted(known))}",
                )
            if binding.group is not None and binding.group not in self.groups:
                raise FieldError(
                    ("bindings", i, "group"),
                    f"unknown group {binding.group!r}; known: {', '.join(sorted(self.groups))}",
                )
        for group, members in self.groups.items():
            for i, member in enumerate(members):
                if not member or len(member.split("/")) > 3 or "" in member.split("/"):
                    raise FieldError(
                        ("groups", group, i),
                        f"invalid member {member!r}: write id, org/id or org/project/id",
                    )
        return self

    def effective_roles(self) -> dict[str, tuple[str, ...]]:
        """BUILTIN_ROLES overlaid with iam.roles."""
        return {**BUILTIN_ROLES, **{name: tuple(p) for name, p in self.roles.items()}}

    def secret_key_path(self, settings: Settings) -> Path:
        """Where the secret-encryption key is read from (and created on first start)."""
        if self.secret_key_file is not None:
            return self.secret_key_file
        return settings.server.data_dir / "secret.key"


_REGION_RE = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?")
_DOMAIN_RE = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*")


def _check_domain(domain: str) -> str:
    domain = domain.strip(".").lower()
    if not _DOMAIN_RE.fullmatch(domain):
        raise ValueError(f"invalid domain {domain!r}, expected e.g. s3.example.com")
    return domain


class S3Settings(_Section):
    enabled: bool = True
    """Serve the S3 API (when the S3 frontend is installed)."""
    region: str = "us-east-1"
    """Region in SigV4 scopes and GetBucketLocation."""
    root_domains: Annotated[
        list[Annotated[str, AfterValidator(_check_domain)]], NoDecode, BeforeValidator(_split_list)
    ] = Field(default_factory=list)
    """Domains of virtual-hosted-style requests (bucket.s3.example.com); empty = path style only."""
    max_clock_skew_seconds: int = Field(default=900, ge=1, le=3600)
    """Largest difference between a request's signing time and ours."""
    presign_max_expiry_seconds: int = Field(default=604800, ge=1, le=604800)
    """Longest validity of a presigned URL (S3 allows at most 7 days)."""
    presign_default_expiry_seconds: int = Field(default=3600, ge=1, le=604800)
    """Validity of URLs that ``lightningstor presign`` makes when not told (it reads this from
    the file $LIGHTNINGSTOR_CONFIG names); at most presign_max_expiry_seconds."""

    @model_validator(mode="after")
    def _check(self) -> S3Settings:
        if not _REGION_RE.fullmatch(self.region):
            raise FieldError("region", f"invalid region {self.region!r}, expected e.g. us-east-1")
        if self.presign_default_expiry_seconds > self.presign_max_expiry_seconds:
            raise FieldError(
                "presign_default_expiry_seconds",
                f"must not exceed presign_max_expiry_seconds ({self.presign_max_expiry_seconds})",
            )
        return self


class ConnectionSettings(_Section):
    """Bounds on the connections the listeners hold (against connection exhaustion)."""

    max_connections: int = Field(default=10_000, ge=1)
    """S3 connections one process holds at once; more are closed at accept. At most half the
    process's open-file limit is used, whatever this says."""
    max_connections_per_source: int = Field(default=512, ge=0)
    """S3 connections one client address holds at once (per process; at most a quarter of
    max_connections as used); 0 = no bound (behind a proxy every connection has the proxy's
    address)."""
    header_timeout_seconds: PositiveSeconds = 10.0
    """Time from a connection's opening (or the first byte of a later request) to the end of
    the request head; then the connection is closed."""
    idle_timeout_seconds: PositiveSeconds = 75.0
    """Time a keep-alive connection may wait for its next request."""
    body_timeout_seconds: PositiveSeconds = 20.0
    """Window over which a request body's rate is checked; a body slower than min_body_rate
    over one window gets RequestTimeout."""
    min_body_rate: Annotated[int, BeforeValidator(parse_size), Field(ge=0)] = 4 * KiB
    """Bytes per second a request body must average over each window (at least one byte a
    window when 0)."""
    grpc_max_connections: int = Field(default=10_000, ge=0)
    """gRPC connections one process holds at once (0 = no bound); at most a quarter of the
    open-file limit is used."""
    grpc_handshake_timeout_seconds: PositiveSeconds = 10.0
    """Time a new gRPC connection has for its TLS and HTTP/2 handshake."""
    grpc_max_connection_idle_seconds: Seconds = 300.0
    """A gRPC connection with no call for this long is closed (GOAWAY); 0 = never."""
    grpc_max_connection_age_seconds: Seconds = 0.0
    """A gRPC connection this old is asked to reconnect (GOAWAY); 0 = never."""
    grpc_max_connection_age_grace_seconds: Seconds = 300.0
    """Time the calls of a connection past its age get to finish before it is cut."""
    grpc_keepalive_seconds: PositiveSeconds = 120.0
    """The server pings a gRPC connection silent for this long, to find dead peers."""
    grpc_keepalive_timeout_seconds: PositiveSeconds = 20.0
    """A ping unanswered for this long closes the connection."""
    grpc_min_ping_interval_seconds: PositiveSeconds = 10.0
    """Clients may ping no more often than this; one that keeps doing it is disconnected."""


class LimitsSettings(_Section):
    max_object_size: ByteCount = 5 * TiB
    """Largest object (multipart included)."""
    max_put_size: ByteCount = 5 * GiB
    """Largest single PutObject (or UploadPart body)."""
    max_parts: int = Field(default=10000, ge=1, le=10000)
    """Most parts in one multipart upload."""
    min_part_size: ByteCount = 5 * MiB
    """Smallest part except the last."""
    max_part_size: ByteCount = 5 * GiB
    """Largest part."""
    max_keys: int = Field(default=1000, ge=1)
    """Most entries in one listing page."""
    max_buckets_per_scope: int = Field(default=1000, ge=1)
    """Most buckets per org or project."""
    multipart_upload_timeout_seconds: PositiveSeconds = 7 * 86400.0
    """Age at which an unfinished multipart upload is aborted and its parts collected."""
    max_delete_objects: int = Field(default=1000, ge=1)
    """Most keys in one DeleteObjects request."""
    completed_upload_result_seconds: Seconds = 900.0
    """How long a retried CompleteMultipartUpload of an upload that completed is answered with
    its result (S3 does so "for a while"); 0: it is NoSuchUpload at once."""

    @model_validator(mode="after")
    def _check(self) -> LimitsSettings:
        pairs = (
            ("min_part_size", "max_part_size"),
            ("max_part_size", "max_object_size"),
            ("max_put_size", "max_object_size"),
        )
        for low, high in pairs:
            low_value, high_value = getattr(self, low), getattr(self, high)
            if low_value > high_value:
                raise FieldError(
                    low,
                    f"must not exceed {high} ({format_size(high_value)}), "
                    f"got {format_size(low_value)}",
                )
        return self


QuotaLimit = Annotated[int, BeforeValidator(parse_size), Field(ge=0)]


class QuotaDefaults(_Section):
    """Limits of one level (an org as a whole, or a project); 0 = unlimited."""

    max_buckets: int = Field(default=0, ge=0)
    """Most buckets."""
    max_bytes: QuotaLimit = 0
    """Most bytes stored (every version, plus parts of uploads in progress)."""
    max_objects: int = Field(default=0, ge=0)
    """Most object versions holding data (delete markers not counted)."""
    max_object_size: QuotaLimit = 0
    """Largest object (and part)."""
    requests_per_second: int = Field(default=0, ge=0)
    """Most object and bucket requests a second, per server process, of callers in the scope."""
    bytes_in_per_second: QuotaLimit = 0
    """Most body bytes a second received from callers in the scope, per server process."""
    bytes_out_per_second: QuotaLimit = 0
    """Most body bytes a second sent to callers in the scope, per server process."""


class QuotaSettings(_Section):
    org: QuotaDefaults = Field(default_factory=QuotaDefaults)
    """Default limits of every org without a quota of its own (set through UsageService)."""
    project: QuotaDefaults = Field(default_factory=QuotaDefaults)
    """Default limits of every project without a quota of its own."""
    cache_ttl_seconds: Annotated[Seconds, Field(le=60)] = 1.0
    """How old the usage and quota records a server checks against may be (other servers'
    writes within this window can overshoot a limit; see lightningstor_api/README.md)."""
    burst_seconds: Annotated[PositiveSeconds, Field(le=60)] = 1.0
    """The rate limits' burst: a token bucket holds this many seconds of its rate."""
    refusal_delay_seconds: Annotated[Seconds, Field(le=10)] = 1.0
    """How long a request refused by a rate limit waits before its answer (at most its
    Retry-After; 0 = at once): a client that ignores SlowDown holds a connection, not the CPU."""


class UsageSettings(_Section):
    flush_interval_seconds: PositiveSeconds = 10.0
    """How often request counts kept in memory are written out (a crash loses at most this)."""
    fold_interval_seconds: PositiveSeconds = 5.0
    """How often pending usage deltas are folded into their base records."""


class LifecycleSettings(_Section):
    enabled: bool = True
    """Whether this server competes for the lifecycle lease and applies the buckets' rules."""
    interval_seconds: PositiveSeconds = 3600.0
    """Pause between two passes over every bucket with rules."""
    lease_seconds: Annotated[float, BeforeValidator(parse_duration), Field(ge=1)] = 30.0
    """Term of the lease that makes one server of a cluster the worker: another takes over
    after the lease went unrenewed this long."""
    page_size: int = Field(default=500, ge=1, le=10_000)
    """Versions read in one metadata range (bounds the worker's memory); progress is saved
    after each page."""
    day_seconds: Annotated[float, BeforeValidator(parse_duration), Field(gt=0)] = 86400.0
    """Length of a lifecycle "day" (rule Days, midnight rounding). A test knob, as RGW's
    debug interval: production keeps 86400."""


class EncryptionSettings(_Section):
    key_file: UserPath | None = None
    """Master keys of server-side encryption, one ``NAME BASE64KEY`` line each (32-byte keys);
    default {server.data_dir}/sse.keys, made with one key at first start."""
    keys: dict[str, SecretStr] = Field(default_factory=dict)
    """The same named keys inline (prefer key_file or the environment); excludes key_file."""
    active_key: str | None = None
    """The key that wraps new data keys (rotation: add a key, name it here); default the last
    line of the key file, or the only inline key."""

    @model_validator(mode="after")
    def _check(self) -> EncryptionSettings:
        if self.keys and self.key_file is not None:
            raise FieldError("keys", "set keys or key_file, not both")
        if self.keys and self.active_key is None and len(self.keys) > 1:
            raise FieldError("active_key", "required with several inline keys")
        if self.keys and self.active_key is not None and self.active_key not in self.keys:
            raise FieldError("active_key", f"{self.active_key!r} is not one of keys")
        return self

    def key_file_path(self, settings: Settings) -> Path:
        """Where the master keys are read from (and created on first start)."""
        if self.key_file is not None:
            return self.key_file
        return settings.server.data_dir / "sse.keys"


def _log_level(value: object) -> object:
    value = _lower(value)
    return "warning" if value == "warn" else value


class LoggingSettings(_Section):
    level: Annotated[Literal["debug", "info", "warning", "error"], BeforeValidator(_log_level)] = (
        "info"
    )
    """Least severe level written (any case)."""
    format: Annotated[Literal["json", "text"], BeforeValidator(_lower)] = "json"
    """json = one object per line (for collectors); text = for people."""
    access_log: bool = True
    """Log every request (method, path, status, bytes, duration)."""


class MetricsSettings(_Section):
    enabled: bool = True
    """Serve Prometheus metrics at /metrics."""
    addr: Address | None = None
    """A separate host:port for /metrics, /health and /ready; unset = on the S3 port (server),
    not served (storage node)."""
    bearer_token: SecretStr | None = None
    """Token scrapers must send (Authorization: Bearer); unset = open."""


class TracingSettings(_Section):
    otlp_endpoint: str | None = None
    """OTLP collector (e.g. http://otel-collector:4317); unset = no traces exported."""
    file: str | None = None
    """Spans also written here as JSON lines (``-`` = stderr), for those without a collector."""
    sample_ratio: float = Field(default=1.0, ge=0, le=1)
    """Share of traces recorded."""
    export_timeout_seconds: float = Field(default=3.0, gt=0)
    """Longest wait for the collector per export, so also at shutdown (an unreachable one
    delays the stop by about twice this)."""

    @property
    def enabled(self) -> bool:
        """Whether spans go anywhere (and so whether anything traces at all)."""
        return self.otlp_endpoint is not None or self.file is not None


# --- the settings classes and their sources ---------------------------------------------------


class _ShortEnvSource(InitSettingsSource):
    """The platform spec's short variable names (LIGHTNINGSTOR_S3_ADDR …) as nested values."""

    def __init__(
        self,
        settings_cls: type[BaseSettings],
        env_vars: Mapping[str, str | None],
        names: Mapping[str, tuple[str, ...]],
    ) -> None:
        values: dict[str, Any] = {}
        for name, path in names.items():
            value = env_vars.get(name.lower())
            if value:
                target = values
                for part in path[:-1]:
                    target = target.setdefault(part, {})
                target[path[-1]] = value
        super().__init__(settings_cls, init_kwargs=values)


class _SpecTomlSource(TomlConfigSettingsSource):
    """A server's TOML file with the specification's names translated (config_spec)."""

    def _read_file(self, file_path: Any) -> dict[str, Any]:
        return config_spec.translate(super()._read_file(file_path))


class SettingsBase(BaseSettings):
    """What both settings classes share: prefix, strictness and the order of the sources."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        env_ignore_empty=True,
        case_sensitive=False,
        extra="forbid",
        frozen=True,
        use_attribute_docstrings=True,
    )

    short_env_names: ClassVar[Mapping[str, tuple[str, ...]]] = {}
    """Spec-level variable names → field path; a nested LIGHTNINGSTOR_A__B name wins over them."""

    @classmethod
    def config_sources(
        cls,
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        config_file: Path | None,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """The sources, highest priority first: init/CLI, env, short env names, TOML file.

        A named ``config_file`` must exist (``FileNotFoundError``); a TOML syntax error raises
        ``tomllib.TOMLDecodeError``.
        """
        if config_file is not None and not config_file.is_file():
            raise FileNotFoundError(f"config file not found: {config_file}")
        env_vars = env_settings.env_vars if isinstance(env_settings, EnvSettingsSource) else {}
        return (
            init_settings,
            env_settings,
            _ShortEnvSource(cls, env_vars, cls.short_env_names),
            cls.toml_source(config_file),
        )

    @classmethod
    def toml_source(cls, config_file: Path | None) -> TomlConfigSettingsSource:
        """The TOML file's source (a subclass may read other names in it)."""
        return TomlConfigSettingsSource(cls, toml_file=config_file)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        env_vars = env_settings.env_vars if isinstance(env_settings, EnvSettingsSource) else {}
        named = env_vars.get(CONFIG_ENV_VAR.lower())
        return cls.config_sources(
            init_settings, env_settings, Path(named).expanduser() if named else None
        )


def _ports_clash(a: str, b: str) -> bool:
    (host_a, port_a), (host_b, port_b) = split_address(a), split_address(b)
    wildcard = {"0.0.0.0", "::"}
    return port_a == port_b != 0 and (host_a == host_b or bool({host_a, host_b} & wildcard))


class Settings(SettingsBase):
    """The server's configuration: one TOML file with these sections."""

    short_env_names: ClassVar[Mapping[str, tuple[str, ...]]] = MappingProxyType(
        {
            "LIGHTNINGSTOR_LOG_LEVEL": ("logging", "level"),
            "LIGHTNINGSTOR_GRPC_ADDR": ("server", "grpc_addr"),
            "LIGHTNINGSTOR_S3_ADDR": ("server", "s3_addr"),
            "LIGHTNINGSTOR_DATA_DIR": ("server", "data_dir"),
        }
    )

    server: ServerSettings = Field(default_factory=ServerSettings)
    """Listeners, the data directory, workers, shutdown."""
    metadata: MetadataSettings = Field(default_factory=MetadataSettings)
    """Where bucket and object records live."""
    storage: StorageSettings = Field(default_factory=StorageSettings)
    """Where chunk data lives."""
    iam: IamSettings = Field(default_factory=IamSettings)
    """Who may do what."""
    s3: S3Settings = Field(default_factory=S3Settings)
    """The S3 API."""
    connections: ConnectionSettings = Field(default_factory=ConnectionSettings)
    """Timeouts and bounds of the connections the listeners hold."""
    limits: LimitsSettings = Field(default_factory=LimitsSettings)
    """Sizes and counts requests may not exceed."""
    quotas: QuotaSettings = Field(default_factory=QuotaSettings)
    """Default storage quotas per org and project."""
    usage: UsageSettings = Field(default_factory=UsageSettings)
    """Usage accounting intervals."""
    lifecycle: LifecycleSettings = Field(default_factory=LifecycleSettings)
    """The worker that applies the buckets' lifecycle rules."""
    encryption: EncryptionSettings = Field(default_factory=EncryptionSettings)
    """Master keys of server-side encryption."""
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    """Logs."""
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    """Prometheus metrics."""
    tracing: TracingSettings = Field(default_factory=TracingSettings)
    """OpenTelemetry traces."""

    @classmethod
    def toml_source(cls, config_file: Path | None) -> TomlConfigSettingsSource:
        """The file may use the platform specification's names (config_spec)."""
        return _SpecTomlSource(cls, toml_file=config_file)

    @model_validator(mode="after")
    def _check(self) -> Settings:
        listeners = [("server", "grpc_addr"), ("server", "s3_addr")]
        if self.metrics.addr is not None:
            listeners.append(("metrics", "addr"))
        values = {path: getattr(getattr(self, path[0]), path[1]) for path in listeners}
        for i, later in enumerate(listeners):
            for earlier in listeners[:i]:
                if _ports_clash(values[earlier], values[later]):
                    raise FieldError(
                        later, f"{values[later]} clashes with {'.'.join(earlier)} {values[earlier]}"
                    )
        return self


class StorageNodeSettings(SettingsBase):
    """A storage node's configuration (a flat TOML file, see config/storage-node.toml)."""

    short_env_names: ClassVar[Mapping[str, tuple[str, ...]]] = MappingProxyType(
        {"LIGHTNINGSTOR_LOG_LEVEL": ("logging", "level")}
    )

    listen_addr: Address = "0.0.0.0:9002"
    """Where the node's gRPC service listens."""
    data_dir: UserPath = Path("./data")
    """Root of the node's chunks ({data_dir}/chunks/…)."""
    zone: str | None = None
    """Failure domain of this node; informational here, placement uses the servers' node list."""
    tls: TlsSettings | None = None
    """TLS for the listener; with ca_file only servers with a client certificate get in."""
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    """Logs."""
    scrub_rate_bytes_per_second: Annotated[int, BeforeValidator(parse_size), Field(ge=0)] = 32 * MiB
    """Read rate of the checksum scrub of local chunks; 0 = scrubbing off."""
    shutdown_grace_seconds: Seconds = 10.0
    """On SIGTERM, how long in-flight calls may take before they are cut."""
    min_free_bytes: Annotated[int, BeforeValidator(parse_size), Field(ge=0)] = GiB
    """Free space of the data directory's filesystem below which the node is not ready."""
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    """Prometheus metrics, /health and /ready on metrics.addr (unset = only gRPC health)."""
    tracing: TracingSettings = Field(default_factory=TracingSettings)
    """OpenTelemetry spans of the calls that carry a server's trace context (the server's fields);
    off unless otlp_endpoint or file is set."""
