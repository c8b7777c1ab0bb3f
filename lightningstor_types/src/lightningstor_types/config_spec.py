"""The platform specification's configuration names (its §8.1 example), read as ours.

The specification names some settings differently; a TOML file written with its names is
translated here, before validation, so it loads as written and every value lands in our model:

    [metadata] backend = "chainfire"              backend = "etcd"
    [metadata] chainfire_endpoints = ["http://h:2379"]   endpoints = ["h:2379"] (https: + tls)
    [storage] data_dir                            storage.local_dir
    [storage] chunk_size_bytes                    storage.chunk_size
    [storage] shard_depth                         storage.shard_depth (same name)
    [storage.distributed] nodes = ["http://n:9002"]   nodes = [{address = "n:9002"}]
    [iam] endpoint = "http://aegis:9100"          endpoint = "aegis:9100", mode = "external"
    [iam] service_account                         iam.token_path (the account's token file)
    [s3] signature_version = "v4"                 checked: only SigV4 is served
    [s3] presigned_url_ttl_seconds                s3.presign_default_expiry_seconds
    [limits] max_object_size_bytes                limits.max_object_size
    [limits] max_multipart_parts                  limits.max_parts
    [limits] multipart_upload_timeout_hours       limits.multipart_upload_timeout_seconds
    [limits] max_keys_per_list                    limits.max_keys

A file may not give both names of one setting (a ValueError names them). Pure dictionaries, no
pydantic: the CLI reads ``presign_default_expiry`` from a file without the configuration model.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["SIGNATURE_VERSIONS", "presign_default_expiry", "translate"]

SIGNATURE_VERSIONS = ("v4", "s3v4", "sigv4", "aws4-hmac-sha256")
"""Ways of saying "Signature Version 4", the only one the S3 facade serves."""

_TLS_SCHEMES = ("https://", "grpcs://")
_SCHEMES = ("http://", "https://", "grpc://", "grpcs://")


def _address(url: object) -> object:
    """``http://host:port`` → ``host:port`` (other values unchanged, for the model to judge)."""
    if not isinstance(url, str):
        return url
    for scheme in _SCHEMES:
        if url.lower().startswith(scheme):
            return url[len(scheme) :].rstrip("/")
    return url


def _secure(urls: object) -> bool:
    values = urls if isinstance(urls, list) else [urls]
    return any(isinstance(u, str) and u.lower().startswith(_TLS_SCHEMES) for u in values)


def _hours(value: object) -> object:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value) * 3600
    if isinstance(value, str):
        return f"{value.strip()}h" if value.strip().replace(".", "", 1).isdigit() else value
    return value


def _rename(
    section: dict[str, Any],
    where: str,
    spec: str,
    ours: str,
    convert: Callable[[Any], Any] = lambda v: v,
) -> None:
    if spec not in section:
        return
    if ours in section:
        raise ValueError(f"{where}.{spec} is {where}.{ours} under another name: set one of them")
    section[ours] = convert(section.pop(spec))


def _metadata(section: dict[str, Any]) -> None:
    if isinstance(section.get("backend"), str) and section["backend"].lower() == "chainfire":
        section["backend"] = "etcd"
    for name in ("chainfire_endpoints", "endpoints"):
        urls = section.get(name)
        if isinstance(urls, list):
            if _secure(urls) and "tls" not in section:
                section["tls"] = {}
            section[name] = [_address(u) for u in urls]


def _storage(section: dict[str, Any]) -> None:
    _rename(section, "storage", "data_dir", "local_dir")
    _rename(section, "storage", "chunk_size_bytes", "chunk_size")
    distributed = section.get("distributed")
    if isinstance(distributed, dict) and isinstance(distributed.get("nodes"), list):
        nodes = distributed["nodes"]
        if _secure(nodes) and "tls" not in distributed:
            distributed["tls"] = {}
        distributed["nodes"] = [
            {"address": _address(n)} if isinstance(n, str) else n for n in nodes
        ]


def _iam(section: dict[str, Any]) -> None:
    endpoint = section.get("endpoint")
    if isinstance(endpoint, str) and endpoint.lower().startswith(_SCHEMES):
        if _secure(endpoint) and "tls" not in section:
            section["tls"] = {}
        section["endpoint"] = _address(endpoint)
    if endpoint is not None:
        section.setdefault("mode", "external")  # an IAM to ask is what the endpoint is for
    _rename(section, "iam", "service_account", "token_path")


def _s3(section: dict[str, Any]) -> None:
    version = section.pop("signature_version", None)
    if version is not None and str(version).lower() not in SIGNATURE_VERSIONS:
        # Not ignored: a file asking for SigV2 would otherwise believe it got it.
        raise ValueError(
            f's3.signature_version {version!r}: only Signature Version 4 is served ("v4")'
        )
    _rename(section, "s3", "presigned_url_ttl_seconds", "presign_default_expiry_seconds")


def _limits(section: dict[str, Any]) -> None:
    _rename(section, "limits", "max_object_size_bytes", "max_object_size")
    _rename(section, "limits", "max_multipart_parts", "max_parts")
    _rename(
        section, "limits", "multipart_upload_timeout_hours", "multipart_upload_timeout_seconds",
        _hours,
    )  # fmt: skip
    _rename(section, "limits", "max_keys_per_list", "max_keys")


_SECTIONS: Mapping[str, Callable[[dict[str, Any]], None]] = {
    "metadata": _metadata,
    "storage": _storage,
    "iam": _iam,
    "s3": _s3,
    "limits": _limits,
}


def translate(data: Mapping[str, Any]) -> dict[str, Any]:
    """A server configuration (a parsed TOML file) with the specification's names made ours."""
    out = copy.deepcopy(dict(data))
    for name, fix in _SECTIONS.items():
        if isinstance(out.get(name), dict):
            fix(out[name])
    return out


def presign_default_expiry(data: Mapping[str, Any]) -> int | None:
    """``s3.presign_default_expiry_seconds`` (or the specification's name) of a parsed file."""
    s3 = translate(data).get("s3")
    value = s3.get("presign_default_expiry_seconds") if isinstance(s3, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None
