"""Object Lock calls of the async client (ObjectLockService): a bucket's lock configuration, a
version's retention and legal hold. They take and return the API's messages
(``common_pb2.ObjectRetention``, ``objectlock_pb2.ObjectLockConfiguration``)."""

from __future__ import annotations

from lightningstor.v1 import common_pb2, objectlock_pb2
from lightningstor_client._connection import Connection


class ObjectLockMethods(Connection):
    async def get_object_lock_configuration(
        self, bucket: str
    ) -> objectlock_pb2.ObjectLockConfiguration:
        """``ObjectLockConfigurationNotFoundError`` for a bucket created without Object Lock."""
        req = objectlock_pb2.GetObjectLockConfigurationRequest(scope=self._scope, name=bucket)
        call = self._locks.GetObjectLockConfiguration(req, timeout=self._timeout)
        return (await self._unary(call)).configuration

    async def put_object_lock_configuration(
        self, bucket: str, configuration: objectlock_pb2.ObjectLockConfiguration
    ) -> None:
        """Set the default retention of a bucket created with Object Lock."""
        req = objectlock_pb2.PutObjectLockConfigurationRequest(
            scope=self._scope, name=bucket, configuration=configuration
        )
        await self._unary(self._locks.PutObjectLockConfiguration(req, timeout=self._timeout))

    async def get_object_retention(
        self, bucket: str, key: str, *, version_id: str | None = None
    ) -> common_pb2.ObjectRetention:
        """The version's retention (NoSuchObjectLockConfiguration when it has none; InvalidRequest
        in a bucket without Object Lock)."""
        req = objectlock_pb2.GetObjectRetentionRequest(
            scope=self._scope, bucket=bucket, key=key, version_id=version_id or ""
        )
        call = self._locks.GetObjectRetention(req, timeout=self._timeout)
        return (await self._unary(call)).retention

    async def put_object_retention(
        self,
        bucket: str,
        key: str,
        retention: common_pb2.ObjectRetention,
        *,
        version_id: str | None = None,
        bypass_governance_retention: bool = False,
    ) -> None:
        """Set, extend (or, for GOVERNANCE with the bypass permission, shorten or remove) a
        version's retention; a COMPLIANCE retention is only ever extended."""
        req = objectlock_pb2.PutObjectRetentionRequest(
            scope=self._scope,
            bucket=bucket,
            key=key,
            version_id=version_id or "",
            retention=retention,
            bypass_governance_retention=bypass_governance_retention,
        )
        await self._unary(self._locks.PutObjectRetention(req, timeout=self._timeout))

    async def get_object_legal_hold(
        self, bucket: str, key: str, *, version_id: str | None = None
    ) -> bool:
        """Whether the version (default: the latest) is under legal hold."""
        req = objectlock_pb2.GetObjectLegalHoldRequest(
            scope=self._scope, bucket=bucket, key=key, version_id=version_id or ""
        )
        return (await self._unary(self._locks.GetObjectLegalHold(req, timeout=self._timeout))).on

    async def put_object_legal_hold(
        self, bucket: str, key: str, on: bool, *, version_id: str | None = None
    ) -> None:
        """Put a legal hold on the version (default: the latest), or lift it with ``on=False``;
        while on, nobody can delete the version, whatever its retention."""
        req = objectlock_pb2.PutObjectLegalHoldRequest(
            scope=self._scope, bucket=bucket, key=key, version_id=version_id or "", on=on
        )
        await self._unary(self._locks.PutObjectLegalHold(req, timeout=self._timeout))
