"""GetBucketAcl, PutBucketAcl, GetObjectAcl, PutObjectAcl (``?acl``, with ``versionId`` on
objects) and Get/Put/DeleteBucketOwnershipControls (``?ownershipControls``)."""

from __future__ import annotations

from dataclasses import dataclass

from lightningstor.v1 import bucket_pb2, object_pb2
from lightningstor_s3 import acl_xml, headers, xml, xml_in
from lightningstor_s3.handlers.base import S3Call
from lightningstor_types.errors import MalformedXML


async def get_bucket_acl(call: S3Call) -> None:
    resp = await call.service.get_bucket_acl(
        call.ctx, bucket_pb2.GetBucketAclRequest(name=call.route.bucket)
    )
    await call.ex.respond_xml(acl_xml.render(resp.acl))


async def put_bucket_acl(call: S3Call) -> None:
    acl = acl_xml.from_request(call.headers, call.query, await call.read_xml())
    await call.service.put_bucket_acl(
        call.ctx, bucket_pb2.PutBucketAclRequest(name=call.route.bucket, acl=acl)
    )
    await call.ex.respond(200)


async def get_object_acl(call: S3Call) -> None:
    req = object_pb2.GetObjectAclRequest(
        bucket=call.route.bucket, key=call.route.key, version_id=call.query.get("versionId", "")
    )
    resp = await call.service.get_object_acl(call.ctx, req)
    out = headers.written_version_headers(resp.version_id)
    await call.ex.respond_xml(acl_xml.render(resp.acl), out)


async def put_object_acl(call: S3Call) -> None:
    acl = acl_xml.from_request(call.headers, call.query, await call.read_xml())
    req = object_pb2.PutObjectAclRequest(
        bucket=call.route.bucket,
        key=call.route.key,
        version_id=call.query.get("versionId", ""),
        acl=acl,
    )
    resp = await call.service.put_object_acl(call.ctx, req)
    await call.ex.respond(200, headers.written_version_headers(resp.version_id))


@dataclass(slots=True)
class Rule:
    object_ownership: str


@dataclass(slots=True)
class OwnershipControls:
    rule: Rule


async def get_bucket_ownership_controls(call: S3Call) -> None:
    resp = await call.service.get_bucket_ownership_controls(
        call.ctx, bucket_pb2.GetBucketOwnershipControlsRequest(name=call.route.bucket)
    )
    await call.ex.respond_xml(xml.render(OwnershipControls(Rule(resp.object_ownership))))


async def put_bucket_ownership_controls(call: S3Call) -> None:
    root = xml_in.parse(await call.read_xml(), "OwnershipControls")
    rules = list(xml_in.child_elements(root, "Rule"))
    if len(rules) != 1:
        raise MalformedXML()
    setting = (xml_in.child_text(rules[0], "ObjectOwnership", required=True) or "").strip()
    await call.service.put_bucket_ownership_controls(
        call.ctx,
        bucket_pb2.PutBucketOwnershipControlsRequest(
            name=call.route.bucket, object_ownership=setting
        ),
    )
    await call.ex.respond(200)


async def delete_bucket_ownership_controls(call: S3Call) -> None:
    await call.service.delete_bucket_ownership_controls(
        call.ctx, bucket_pb2.DeleteBucketOwnershipControlsRequest(name=call.route.bucket)
    )
    await call.ex.respond(204)
