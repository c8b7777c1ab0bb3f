"""GetBucketPolicy, PutBucketPolicy, DeleteBucketPolicy (``?policy``), GetBucketPolicyStatus
(``?policyStatus``): the document is checked by the service (MalformedPolicy)."""

from __future__ import annotations

from dataclasses import dataclass

from lightningstor.v1 import bucket_pb2
from lightningstor_s3 import xml
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
