"""Object tagging: GetObjectTagging, PutObjectTagging, DeleteObjectTagging."""

from __future__ import annotations

from dataclasses import replace

from lightningstor.v1 import object_pb2
from lightningstor_s3 import xml, xml_in
from lightningstor_s3.conditions import tag_facts
from lightningstor_s3.handlers.base import S3Call


def _version(version_id: str) -> list[tuple[bytes, bytes]]:
    return [(b"x-amz-version-id", version_id.encode())] if version_id else []


async def get_object_tagging(call: S3Call) -> None:
    resp = await call.service.get_object_tagging(
        call.ctx,
        object_pb2.GetObjectTaggingRequest(
            bucket=call.route.bucket,
            key=call.route.key,
            version_id=call.query.get("versionId", ""),
        ),
    )
    doc = xml.Tagging([xml.Tag(t.key, t.value) for t in resp.tags])
    await call.ex.respond_xml(xml.render(doc), _version(resp.version_id))


async def put_object_tagging(call: S3Call) -> None:
    tags = xml_in.tagging(await call.read_xml())
    # The body's tags are the request's (s3:RequestObjectTag/<k>), as x-amz-tagging's are.
    facts = tag_facts([(t.key, t.value) for t in tags])
    resp = await call.service.put_object_tagging(
        replace(call.ctx, attributes={**call.ctx.attributes, **facts}),
        object_pb2.PutObjectTaggingRequest(
            bucket=call.route.bucket,
            key=call.route.key,
            version_id=call.query.get("versionId", ""),
            tags=tags,
        ),
    )
    await call.ex.respond(200, _version(resp.version_id))


async def delete_object_tagging(call: S3Call) -> None:
    resp = await call.service.delete_object_tagging(
        call.ctx,
        object_pb2.DeleteObjectTaggingRequest(
            bucket=call.route.bucket,
            key=call.route.key,
            version_id=call.query.get("versionId", ""),
        ),
    )
    await call.ex.respond(204, _version(resp.version_id))
