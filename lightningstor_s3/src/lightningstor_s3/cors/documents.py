# ruff: noqa: RUF009 - el() is dataclasses.field with XML metadata, evaluated once per class
"""The ``CORSConfiguration`` document, parsed (PutBucketCors) and rendered (GetBucketCors)."""

from __future__ import annotations

from dataclasses import dataclass
from xml.etree.ElementTree import Element

from lightningstor.v1 import bucket_pb2
from lightningstor_s3 import xml_in
from lightningstor_s3.xml import el
from lightningstor_types.cors import MAX_RULES
from lightningstor_types.errors import MalformedXML

_LISTS = {
    "AllowedOrigin": "allowed_origins",
    "AllowedMethod": "allowed_methods",
    "AllowedHeader": "allowed_headers",
    "ExposeHeader": "expose_headers",
}


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _rule(element: Element) -> bucket_pb2.CorsRule:
    rule = bucket_pb2.CorsRule()
    seen: set[str] = set()
    for child in element:
        name = _local(child.tag)
        text = (child.text or "").strip()
        if name in _LISTS:
            getattr(rule, _LISTS[name]).append(text)
        elif name in ("ID", "MaxAgeSeconds") and name not in seen:
            seen.add(name)
            if name == "ID":
                rule.id = text
            elif text.isdigit() and len(text) <= 9:
                rule.max_age_seconds = int(text)
            else:
                raise MalformedXML("MaxAgeSeconds must be a non-negative integer")
        else:  # an unknown or repeated element: S3 refuses the document
            raise MalformedXML()
    return rule


def parse_cors(body: bytes) -> bucket_pb2.CorsConfiguration:
    """The rules of a ``CORSConfiguration`` body (checked further by ``validate_cors``)."""
    root = xml_in.parse(body, "CORSConfiguration")
    config = bucket_pb2.CorsConfiguration()
    for child in root:
        if _local(child.tag) != "CORSRule":
            raise MalformedXML()
        if len(config.rules) == MAX_RULES:
            raise MalformedXML(f"A CORS configuration holds at most {MAX_RULES} rules")
        config.rules.append(_rule(child))
    return config


@dataclass(slots=True)
class CORSRule:
    id: str | None = el("ID")
    allowed_header: list[str] = el("AllowedHeader")
    allowed_method: list[str] = el("AllowedMethod")
    allowed_origin: list[str] = el("AllowedOrigin")
    expose_header: list[str] = el("ExposeHeader")
    max_age_seconds: int | None = None


@dataclass(slots=True)
class CORSConfiguration:
    rules: list[CORSRule] = el("CORSRule")

    @classmethod
    def of(cls, config: bucket_pb2.CorsConfiguration) -> CORSConfiguration:
        return cls(
            [
                CORSRule(
                    id=r.id or None,
                    allowed_header=list(r.allowed_headers),
                    allowed_method=list(r.allowed_methods),
                    allowed_origin=list(r.allowed_origins),
                    expose_header=list(r.expose_headers),
                    max_age_seconds=r.max_age_seconds if r.HasField("max_age_seconds") else None,
                )
                for r in config.rules
            ]
        )
