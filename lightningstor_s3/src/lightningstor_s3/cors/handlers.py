"""GetBucketCors, PutBucketCors, DeleteBucketCors (``?cors`` on a bucket)."""

from __future__ import annotations

from lightningstor.v1 import bucket_pb2
from lightningstor_s3 import xml
from lightningstor_s3.cors.documents import CORSConfiguration, parse_cors
from lightningstor_s3.handlers.base import S3Call


async def get_bucket_cors(call: S3Call) -> None:
    resp = await call.service.get_bucket_cors(
        call.ctx, bucket_pb2.GetBucketCorsRequest(name=call.route.bucket)
    )
    await call.ex.respond_xml(xml.render(CORSConfiguration.of(resp.configuration)))


async def put_bucket_cors(call: S3Call) -> None:
    config = parse_cors(await call.read_xml(integrity_required=True))
    await call.service.put_bucket_cors(
        call.ctx, bucket_pb2.PutBucketCorsRequest(name=call.route.bucket, configuration=config)
    )
    await call.ex.respond(200)


async def delete_bucket_cors(call: S3Call) -> None:
    await call.service.delete_bucket_cors(
        call.ctx, bucket_pb2.DeleteBucketCorsRequest(name=call.route.bucket)
    )
    await call.ex.respond(204)
