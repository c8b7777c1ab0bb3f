"""GetBucketPolicy, PutBucketPolicy, DeleteBucketPolicy (``?policy``), GetBucketPolicyStatus
(``?policyStatus``): the document is checked by the service (MalformedPolicy); and
Get/Put/DeletePublicAccessBlock (``?publicAccessBlock``)."""

from __future__ import annotations

from dataclasses import dataclass

from lightningstor.v1 import bucket_pb2
from lightningstor_s3 import xml, xml_in
from lightningstor_s3.handlers.base import S3Call


@dataclass(slots=True)
class PolicyStatus:
    is_public: str


async def get_bucket_policy(call: S3Call) -> None:
    resp = await call.service.get_bucket_policy(
        call.ctx, bucket_pb2.GetBucketPolicyRequest(name=call.route.bucket)
    )
    body = resp.policy.encode("utf-8")
    await call.ex.respond(200, [(b"content-type", b"application/json")], body)


async def put_bucket_policy(call: S3Call) -> None:
    # Bounded like any request document; the 20 KiB limit is the service's to judge.
    text = (await call.read_xml()).decode("utf-8", errors="replace")
    await call.service.put_bucket_policy(
        call.ctx, bucket_pb2.PutBucketPolicyRequest(name=call.route.bucket, policy=text)
    )
    await call.ex.respond(204)


async def delete_bucket_policy(call: S3Call) -> None:
    await call.service.delete_bucket_policy(
        call.ctx, bucket_pb2.DeleteBucketPolicyRequest(name=call.route.bucket)
    )
    await call.ex.respond(204)


async def get_bucket_policy_status(call: S3Call) -> None:
    resp = await call.service.get_bucket_policy_status(
        call.ctx, bucket_pb2.GetBucketPolicyStatusRequest(name=call.route.bucket)
    )
    doc = PolicyStatus("true" if resp.is_public else "false")
    await call.ex.respond_xml(xml.render(doc))


@dataclass(slots=True)
class PublicAccessBlockConfiguration:
    block_public_acls: str
    ignore_public_acls: str
    block_public_policy: str
    restrict_public_buckets: str


def _flag(value: bool) -> str:
    return "true" if value else "false"


async def get_public_access_block(call: S3Call) -> None:
    resp = await call.service.get_public_access_block(
        call.ctx, bucket_pb2.GetPublicAccessBlockRequest(name=call.route.bucket)
    )
    c = resp.configuration
    doc = PublicAccessBlockConfiguration(
        _flag(c.block_public_acls), _flag(c.ignore_public_acls),
        _flag(c.block_public_policy), _flag(c.restrict_public_buckets),
    )  # fmt: skip
    await call.ex.respond_xml(xml.render(doc))


async def put_public_access_block(call: S3Call) -> None:
    config = xml_in.public_access_block(await call.read_xml())
    await call.service.put_public_access_block(
        call.ctx,
        bucket_pb2.PutPublicAccessBlockRequest(name=call.route.bucket, configuration=config),
    )
    await call.ex.respond(200)


async def delete_public_access_block(call: S3Call) -> None:
    await call.service.delete_public_access_block(
        call.ctx, bucket_pb2.DeletePublicAccessBlockRequest(name=call.route.bucket)
    )
    await call.ex.respond(204)
