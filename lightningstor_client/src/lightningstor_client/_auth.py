"""Credentials on every call: a bearer token, or an access key that signs each call."""

from __future__ import annotations

from lightningstor_types.grpc_client import Metadata, Sign
from lightningstor_types.signing import signed_metadata


def credential_signer(
    token: str | None, access_key: str | None, secret_key: str | None
) -> Sign | None:
    """What adds the credentials to each call's metadata; None without credentials."""
    if token is not None:
        if access_key is not None or secret_key is not None:
            raise ValueError("give a token or an access key pair, not both")
        entry = (("authorization", f"Bearer {token}"),)
        return lambda method, metadata: (*metadata, *entry)
    if (access_key is None) != (secret_key is None):
        raise ValueError("access_key and secret_key go together")
    if access_key is not None and secret_key is not None:
        key, secret = access_key, secret_key

        def sign(method: str, metadata: Metadata) -> Metadata:
            return (*metadata, *signed_metadata(key, secret, method))

        return sign
    return None
