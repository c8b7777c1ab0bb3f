"""Object Lock endpoints: Get/PutObjectLockConfiguration, Get/PutObjectRetention,
Get/PutObjectLegalHold."""

from __future__ import annotations

from lightningstor.v1 import objectlock_pb2 as pb
from lightningstor_s3 import objectlock_xml, xml
from lightningstor_s3.handlers.base import S3Call


def _version(version_id: str) -> list[tuple[bytes, bytes]]:
    return [(b"x-amz-version-id", version_id.encode())] if version_id else []


async def get_object_lock_configuration(call: S3Call) -> None:
    resp = await call.service.get_object_lock_configuration(
        call.ctx, pb.GetObjectLockConfigurationRequest(name=call.route.bucket)
    )
    doc = objectlock_xml.configuration_document(resp.configuration)
    await call.ex.respond_xml(xml.render(doc))


async def put_object_lock_configuration(call: S3Call) -> None:
    config = objectlock_xml.configuration(await call.read_xml(integrity_required=True))
    await call.service.put_object_lock_configuration(
        call.ctx, pb.PutObjectLockConfigurationRequest(name=call.route.bucket, configuration=config)
    )
    await call.ex.respond(200)


async def get_object_retention(call: S3Call) -> None:
    resp = await call.service.get_object_retention(
        call.ctx,
        pb.GetObjectRetentionRequest(
            bucket=call.route.bucket,
            key=call.route.key,
            version_id=call.query.get("versionId", ""),
        ),
    )
    await call.ex.respond_xml(xml.render(objectlock_xml.retention_document(resp.retention)))


async def put_object_retention(call: S3Call) -> None:
    retention = objectlock_xml.retention(await call.read_xml(integrity_required=True))
    resp = await call.service.put_object_retention(
        call.ctx,
        pb.PutObjectRetentionRequest(
            bucket=call.route.bucket,
            key=call.route.key,
            version_id=call.query.get("versionId", ""),
            retention=retention,
            bypass_governance_retention=objectlock_xml.bypass(
                objectlock_xml.lock_headers(call.headers, call.query)
            ),
        ),
    )
    await call.ex.respond(200, _version(resp.version_id))


async def get_object_legal_hold(call: S3Call) -> None:
    resp = await call.service.get_object_legal_hold(
        call.ctx,
        pb.GetObjectLegalHoldRequest(
            bucket=call.route.bucket,
            key=call.route.key,
            version_id=call.query.get("versionId", ""),
        ),
    )
    doc = objectlock_xml.LegalHold("ON" if resp.on else "OFF")
    await call.ex.respond_xml(xml.render(doc))


async def put_object_legal_hold(call: S3Call) -> None:
    on = objectlock_xml.legal_hold(await call.read_xml(integrity_required=True))
    resp = await call.service.put_object_legal_hold(
        call.ctx,
        pb.PutObjectLegalHoldRequest(
            bucket=call.route.bucket,
            key=call.route.key,
            version_id=call.query.get("versionId", ""),
            on=on,
        ),
    )
    await call.ex.respond(200, _version(resp.version_id))
