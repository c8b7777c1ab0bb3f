"""Bucket lifecycle endpoints: Get/Put/DeleteBucketLifecycleConfiguration."""

from __future__ import annotations

from lightningstor.v1 import lifecycle_pb2
from lightningstor_s3 import lifecycle_xml, xml
from lightningstor_s3.handlers.base import S3Call


async def get_bucket_lifecycle(call: S3Call) -> None:
    resp = await call.service.get_bucket_lifecycle_configuration(
        call.ctx, lifecycle_pb2.GetBucketLifecycleConfigurationRequest(name=call.route.bucket)
    )
    await call.ex.respond_xml(xml.render(lifecycle_xml.document(list(resp.rules))))


async def put_bucket_lifecycle(call: S3Call) -> None:
    # S3 requires Content-MD5 or a checksum on this document, as on DeleteObjects.
    rules = lifecycle_xml.lifecycle_configuration(await call.read_xml(integrity_required=True))
    await call.service.put_bucket_lifecycle_configuration(
        call.ctx,
        lifecycle_pb2.PutBucketLifecycleConfigurationRequest(name=call.route.bucket, rules=rules),
    )
    await call.ex.respond(200)


async def delete_bucket_lifecycle(call: S3Call) -> None:
    await call.service.delete_bucket_lifecycle_configuration(
        call.ctx, lifecycle_pb2.DeleteBucketLifecycleConfigurationRequest(name=call.route.bucket)
    )
    await call.ex.respond(204)
