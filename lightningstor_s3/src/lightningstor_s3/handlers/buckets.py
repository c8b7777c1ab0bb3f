"""Bucket endpoints: list, create, head, delete, location, versioning, tagging."""

from __future__ import annotations

from lightningstor.v1 import bucket_pb2
from lightningstor_s3 import acl_xml, objectlock_xml, xml, xml_in
from lightningstor_s3.handlers.base import S3Call
from lightningstor_types.errors import BucketAlreadyOwnedByYou, NoSuchTagSet

LEGACY_REGION = "us-east-1"
"""The region where S3 answers 200 to CreateBucket of a bucket the caller already owns."""

MAX_BUCKETS_PAGE = 10_000
"""The largest ``max-buckets`` S3 defines; a larger value asks for the same page."""

_VERSIONING_NAMES = {
    bucket_pb2.VERSIONING_STATUS_ENABLED: "Enabled",
    bucket_pb2.VERSIONING_STATUS_SUSPENDED: "Suspended",
}


async def list_buckets(call: S3Call) -> None:
    req = bucket_pb2.ListBucketsRequest(
        prefix=call.query.get("prefix", ""),
        continuation_token=call.query.get("continuation-token", ""),
    )
    if max_buckets := call.query.get("max-buckets"):
        digits = max_buckets.isascii() and max_buckets.isdigit()
        req.max_buckets = min(int(max_buckets), MAX_BUCKETS_PAGE) if digits else 0
    resp = await call.service.list_buckets(call.ctx, req)
    doc = xml.ListAllMyBucketsResult(
        owner=xml.Owner.of(resp.owner),
        buckets=[xml.Bucket(b.name, b.created_at, b.region or None) for b in resp.buckets],
        continuation_token=resp.next_continuation_token or None,
        prefix=req.prefix or None,
    )
    await call.ex.respond_xml(xml.render(doc))


async def create_bucket(call: S3Call) -> None:
    region = xml_in.create_bucket_configuration(await call.read_xml())
    lock = objectlock_xml.bucket_lock_enabled(objectlock_xml.lock_headers(call.headers, call.query))
    try:
        await call.service.create_bucket(
            call.ctx,
            bucket_pb2.CreateBucketRequest(
                name=call.route.bucket,
                region=region,
                object_lock_enabled=lock,
                acl=acl_xml.from_headers(call.headers, call.query),
                object_ownership=call.headers.get("x-amz-object-ownership", "").strip(),
            ),
        )
    except BucketAlreadyOwnedByYou:
        # S3's legacy rule in us-east-1 only: re-creating your own bucket succeeds, unchanged.
        if call.settings.s3.region != LEGACY_REGION:
            raise
    await call.ex.respond(200, [(b"location", f"/{call.route.bucket}".encode())])


async def head_bucket(call: S3Call) -> None:
    resp = await call.service.head_bucket(
        call.ctx, bucket_pb2.HeadBucketRequest(name=call.route.bucket)
    )
    region = resp.bucket.region or call.settings.s3.region
    await call.ex.respond(200, [(b"x-amz-bucket-region", region.encode())])


async def delete_bucket(call: S3Call) -> None:
    await call.service.delete_bucket(
        call.ctx, bucket_pb2.DeleteBucketRequest(name=call.route.bucket)
    )
    await call.ex.respond(204)


async def get_bucket_location(call: S3Call) -> None:
    resp = await call.service.head_bucket(
        call.ctx, bucket_pb2.HeadBucketRequest(name=call.route.bucket)
    )
    region = resp.bucket.region or call.settings.s3.region
    await call.ex.respond_xml(xml.render(xml.LocationConstraint(region)))


async def get_bucket_versioning(call: S3Call) -> None:
    resp = await call.service.get_bucket_versioning(
        call.ctx, bucket_pb2.GetBucketVersioningRequest(name=call.route.bucket)
    )
    doc = xml.VersioningConfiguration(_VERSIONING_NAMES.get(resp.status))
    await call.ex.respond_xml(xml.render(doc))


async def put_bucket_versioning(call: S3Call) -> None:
    status = xml_in.versioning_configuration(await call.read_xml())
    await call.service.put_bucket_versioning(
        call.ctx,
        bucket_pb2.PutBucketVersioningRequest(name=call.route.bucket, status=status),
    )
    await call.ex.respond(200)


async def get_bucket_tagging(call: S3Call) -> None:
    resp = await call.service.get_bucket_tagging(
        call.ctx, bucket_pb2.GetBucketTaggingRequest(name=call.route.bucket)
    )
    if not resp.tags:
        raise NoSuchTagSet(BucketName=call.route.bucket)
    doc = xml.Tagging([xml.Tag(t.key, t.value) for t in resp.tags])
    await call.ex.respond_xml(xml.render(doc))


async def put_bucket_tagging(call: S3Call) -> None:
    tags = xml_in.tagging(await call.read_xml())
    await call.service.put_bucket_tagging(
        call.ctx, bucket_pb2.PutBucketTaggingRequest(name=call.route.bucket, tags=tags)
    )
    await call.ex.respond(204)


async def delete_bucket_tagging(call: S3Call) -> None:
    await call.service.delete_bucket_tagging(
        call.ctx, bucket_pb2.DeleteBucketTaggingRequest(name=call.route.bucket)
    )
    await call.ex.respond(204)
