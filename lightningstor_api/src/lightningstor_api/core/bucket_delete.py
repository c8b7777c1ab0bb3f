"""DeleteBucket: an empty bucket goes, open multipart uploads with it (as S3 discards them).

The steps, each a transaction with compares:

1. mark the bucket (``deleting_since``, compared on the bucket record's revision): every write
   that makes an object, a version or an upload compares that revision or refuses a fresh mark,
   so after the mark nothing new lands in the bucket;
2. an object or a version (delete markers included) present: unmark, ``BucketNotEmpty``;
3. abort every upload as AbortMultipartUpload does (:func:`abort_upload`): its transaction
   compares the upload key, which each part commit rewrites, so a part stored meanwhile makes
   the abort re-read the parts, and a part arriving later finds no upload; every part's data
   reference goes to the collector;
4. delete the bucket record, compared on the mark's revision and on *no key* under the
   bucket's objects, versions and uploads (range compares), so nothing written between the
   steps is orphaned.
"""

from __future__ import annotations

import contextlib

from lightningstor.meta.v1 import records_pb2
from lightningstor.v1 import bucket_pb2
from lightningstor_api.core.buckets import locate, reload_bucket, update_bucket
from lightningstor_api.core.context import BucketRef, CoreContext
from lightningstor_api.core.multipart import abort_upload
from lightningstor_api.core.versions import MAX_ATTEMPTS, backoff
from lightningstor_api.metadata import Compare, Delete, Put, prefix_end
from lightningstor_types.actions import Action
from lightningstor_types.errors import BucketNotEmpty, NoSuchUpload, SlowDown
from lightningstor_types.service import RequestContext

_PAGE = 256


async def delete_bucket(
    cc: CoreContext, ctx: RequestContext, req: bucket_pb2.DeleteBucketRequest
) -> bucket_pb2.DeleteBucketResponse:
    ref = await locate(cc, ctx, req.scope, req.name, Action.BUCKETS_DELETE)
    key = cc.keys.bucket(ref.scope, ref.name)
    for attempt in range(MAX_ATTEMPTS):
        if await _holds_objects(cc, ref):
            raise BucketNotEmpty(BucketName=req.name)
        marked = records_pb2.BucketRecord()
        marked.CopyFrom(ref.record)
        marked.deleting_since.GetCurrentTime()
        compares = [Compare.mod_revision(key, ref.kv.mod_revision)]
        res = await cc.write_bucket(key, compares, [Put(key, marked.SerializeToString())])
        if not res.succeeded:
            await backoff(attempt)
            ref = await reload_bucket(cc, ref)
            continue
        # Writes that committed before the mark are seen here.
        if await _holds_objects(cc, ref):
            await update_bucket(cc, ref, lambda rec: rec.ClearField("deleting_since"))
            raise BucketNotEmpty(BucketName=req.name)
        await _abort_uploads(cc, ref)
        empty = [
            Compare.none_in(prefix, prefix_end(prefix))
            for prefix in (
                cc.keys.objects_prefix(ref.scope, ref.name),
                cc.keys.versions_prefix(ref.scope, ref.name),
                cc.keys.uploads_prefix(ref.scope, ref.name),
            )
        ]
        held = Compare.mod_revision(key, res.revision)
        if (await cc.write_bucket(key, [held, *empty], [Delete(key)])).succeeded:
            return bucket_pb2.DeleteBucketResponse()
        await backoff(attempt)
        ref = await reload_bucket(cc, ref)
    raise SlowDown("too much contention on this bucket; retry")


async def _holds_objects(cc: CoreContext, ref: BucketRef) -> bool:
    """A current object or a version (delete markers included): what keeps a bucket."""
    for prefix in (
        cc.keys.objects_prefix(ref.scope, ref.name),
        cc.keys.versions_prefix(ref.scope, ref.name),
    ):
        if (await cc.store.range(prefix, limit=1)).kvs:
            return True
    return False


async def _abort_uploads(cc: CoreContext, ref: BucketRef) -> None:
    """Abort every upload in the bucket (of any incarnation), each in its own transaction."""
    prefix = cc.keys.uploads_prefix(ref.scope, ref.name)
    while True:
        page = await cc.store.range(prefix, limit=_PAGE)
        for kv in page.kvs:
            upload_id = records_pb2.UploadRecord.FromString(kv.value).upload_id
            with contextlib.suppress(NoSuchUpload):  # completed or aborted meanwhile
                await abort_upload(cc, kv.key, upload_id)
        if not page.more:
            return
