"""The gRPC side of the load generator: :class:`AsyncLightningStorClient`s, a few channels."""

from __future__ import annotations

from lightningstor_client import AsyncLightningStorClient, LightningStorError

__all__ = ["GrpcDriver", "GrpcSession"]


class GrpcSession:
    """A worker's view of the gRPC API (the channel itself is shared)."""

    def __init__(self, client: AsyncLightningStorClient, bucket: str, body: bytes) -> None:
        self._client = client
        self._bucket = bucket
        self._body = body

    async def put(self, key: str) -> int:
        await self._client.put_object(self._bucket, key, self._body)
        return len(self._body)

    async def get(self, key: str) -> int:
        received = 0
        async with await self._client.get_object(self._bucket, key) as stream:
            async for piece in stream:
                received += len(piece)
        return received

    async def head(self, key: str) -> int:
        await self._client.head_object(self._bucket, key)
        return 0

    async def delete(self, key: str) -> int:
        await self._client.delete_object(self._bucket, key)
        return 0

    async def exists(self, key: str) -> bool:
        try:
            await self._client.head_object(self._bucket, key)
        except LightningStorError as err:
            if err.code in ("NoSuchKey", "NotFound"):
                return False
            raise
        return True

    async def list_page(
        self, prefix: str, max_keys: int, token: str | None
    ) -> tuple[int, str | None]:
        page = await self._client.list_objects(
            self._bucket, prefix=prefix, max_keys=max_keys, continuation_token=token
        )
        return len(page.objects), page.next_token

    async def close(self) -> None:
        return None


class GrpcDriver:
    """Sessions over ``channels`` :class:`AsyncLightningStorClient`s to ``endpoint``
    (``host:port``, ``grpcs://host:port`` for TLS), dealt round-robin: each client is one
    connection, and a server running several processes serves each connection from one of
    them, as with many callers.

    Credentials: an access key and its secret (the same as for S3), or a bearer token.
    """

    api = "grpc"

    def __init__(
        self,
        endpoint: str,
        bucket: str,
        body: bytes,
        *,
        access_key: str | None = None,
        secret_key: str | None = None,
        token: str | None = None,
        channels: int = 1,
        ca_file: str | None = None,
        cert_file: str | None = None,
        key_file: str | None = None,
    ) -> None:
        self._clients = [
            AsyncLightningStorClient(
                endpoint,
                timeout=120.0,
                access_key=access_key,
                secret_key=secret_key,
                token=token,
                ca_file=ca_file,
                cert_file=cert_file,
                key_file=key_file,
            )
            for _ in range(max(1, channels))
        ]
        self._client = self._clients[0]
        self._next = 0
        self._bucket = bucket
        self._body = body

    async def create_bucket(self) -> None:
        try:
            await self._client.create_bucket(self._bucket)
        except LightningStorError as err:
            if err.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise

    def session(self) -> GrpcSession:
        client = self._clients[self._next % len(self._clients)]
        self._next += 1
        return GrpcSession(client, self._bucket, self._body)

    async def close(self) -> None:
        for client in self._clients:
            await client.close()
