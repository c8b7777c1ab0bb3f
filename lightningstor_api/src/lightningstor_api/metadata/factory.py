"""Open the metadata store the settings name: embedded SQLite or etcd (``[metadata] backend``)."""

from __future__ import annotations

from pathlib import Path

from lightningstor_api.metadata.embedded import EmbeddedStore
from lightningstor_api.metadata.etcd import EtcdStore
from lightningstor_api.metadata.etcd_conn import EtcdConfig, EtcdTls
from lightningstor_api.metadata.store import MetadataError, MetadataStore
from lightningstor_types.config import ClientTlsSettings, Settings


async def open_store(settings: Settings) -> MetadataStore:
    """Open the configured store: ``embedded`` (the SQLite file) or ``etcd`` (connected).

    Raises :class:`MetadataUnavailable` when etcd does not answer within
    ``metadata.timeout_seconds``, :class:`MetadataError` for unreadable TLS files.
    """
    if settings.metadata.backend == "embedded":
        return await EmbeddedStore.open(settings.metadata.embedded_path(settings))
    return await EtcdStore.open(etcd_config(settings))


def etcd_config(settings: Settings) -> EtcdConfig:
    """The etcd connection the ``[metadata]`` section describes (TLS files are read here)."""
    meta = settings.metadata
    return EtcdConfig(
        endpoints=list(meta.endpoints),
        tls=_tls(meta.tls) if meta.tls is not None else None,
        username=meta.username,
        password=meta.password.get_secret_value() if meta.password is not None else None,
        timeout=meta.timeout_seconds,
        probe_key=meta.prefix.encode(),  # a key the etcd user may read (its role's prefix)
        retained_revisions=meta.retained_revisions,
    )


def _tls(tls: ClientTlsSettings) -> EtcdTls:
    return EtcdTls(ca=_read(tls.ca_file), cert=_read(tls.cert_file), key=_read(tls.key_file))


def _read(path: Path | None) -> bytes | None:
    if path is None:
        return None
    try:
        return path.read_bytes()
    except OSError as exc:
        raise MetadataError(f"metadata.tls: cannot read {path}: {exc.strerror}") from exc
