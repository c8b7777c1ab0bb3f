"""The metadata key-value protocol (etcd v3 semantics): embedded SQLite and etcd implementations."""

from lightningstor_api.metadata.embedded import EmbeddedStore
from lightningstor_api.metadata.etcd import EtcdStore
from lightningstor_api.metadata.factory import open_store
from lightningstor_api.metadata.store import (
    Compare,
    CompareOp,
    CompareTarget,
    Delete,
    DeletePrefix,
    EventType,
    Get,
    KeyValue,
    MetadataError,
    MetadataStore,
    MetadataUnavailable,
    Op,
    Put,
    RangeResult,
    TxnResult,
    WatchCompacted,
    WatchEvent,
    prefix_end,
    range_pages,
)

__all__ = [
    "Compare",
    "CompareOp",
    "CompareTarget",
    "Delete",
    "DeletePrefix",
    "EmbeddedStore",
    "EtcdStore",
    "EventType",
    "Get",
    "KeyValue",
    "MetadataError",
    "MetadataStore",
    "MetadataUnavailable",
    "Op",
    "Put",
    "RangeResult",
    "TxnResult",
    "WatchCompacted",
    "WatchEvent",
    "open_store",
    "prefix_end",
    "range_pages",
]
