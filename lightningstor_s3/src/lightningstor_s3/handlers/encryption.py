"""Bucket default encryption: Get/Put/DeleteBucketEncryption and their
ServerSideEncryptionConfiguration document (one rule, as S3 allows)."""

from __future__ import annotations

from dataclasses import dataclass

from lightningstor.v1 import bucket_pb2
from lightningstor_s3 import xml
from lightningstor_s3.handlers.base import S3Call
from lightningstor_s3.xml import el
from lightningstor_s3.xml_in import child_elements, child_text, local_name, parse
from lightningstor_types.errors import InvalidArgument, MalformedXML


@dataclass(slots=True)
class ApplyServerSideEncryptionByDefault:
    sse_algorithm: str = el("SSEAlgorithm")
    kms_master_key_id: str | None = el("KMSMasterKeyID")


@dataclass(slots=True)
class EncryptionRule:
    apply_server_side_encryption_by_default: ApplyServerSideEncryptionByDefault
    bucket_key_enabled: bool


@dataclass(slots=True)
class ServerSideEncryptionConfiguration:
    rule: EncryptionRule


def configuration(body: bytes) -> bucket_pb2.BucketEncryption:
    """The one rule of a ServerSideEncryptionConfiguration body (MalformedXML otherwise)."""
    root = parse(body, "ServerSideEncryptionConfiguration")
    rules = list(root)
    if len(rules) != 1 or local_name(rules[0].tag) != "Rule":
        raise MalformedXML()
    rule = rules[0]
    defaults = list(child_elements(rule, "ApplyServerSideEncryptionByDefault"))
    if len(defaults) != 1:
        raise MalformedXML()
    algorithm = child_text(defaults[0], "SSEAlgorithm", required=True) or ""
    kms_key = child_text(defaults[0], "KMSMasterKeyID")
    if kms_key is not None and algorithm == "AES256":
        raise InvalidArgument(
            "a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms",
            ArgumentName="ApplyServerSideEncryptionByDefault",
        )
    bucket_key = child_text(rule, "BucketKeyEnabled")
    if bucket_key not in (None, "true", "false"):
        raise MalformedXML()
    return bucket_pb2.BucketEncryption(
        sse_algorithm=algorithm,
        bucket_key_enabled=bucket_key == "true",
        kms_master_key_id=(kms_key or "").strip(),
    )


async def get_bucket_encryption(call: S3Call) -> None:
    resp = await call.service.get_bucket_encryption(
        call.ctx, bucket_pb2.GetBucketEncryptionRequest(name=call.route.bucket)
    )
    conf = resp.configuration
    doc = ServerSideEncryptionConfiguration(
        EncryptionRule(
            ApplyServerSideEncryptionByDefault(conf.sse_algorithm, conf.kms_master_key_id or None),
            conf.bucket_key_enabled,
        )
    )
    await call.ex.respond_xml(xml.render(doc))


async def put_bucket_encryption(call: S3Call) -> None:
    conf = configuration(await call.read_xml())
    await call.service.put_bucket_encryption(
        call.ctx, bucket_pb2.PutBucketEncryptionRequest(name=call.route.bucket, configuration=conf)
    )
    await call.ex.respond(200)


async def delete_bucket_encryption(call: S3Call) -> None:
    await call.service.delete_bucket_encryption(
        call.ctx, bucket_pb2.DeleteBucketEncryptionRequest(name=call.route.bucket)
    )
    await call.ex.respond(204)
