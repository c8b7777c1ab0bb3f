"""Bearer tokens: the signing key of the embedded IAM, minting, and verification (joserfc).

Claims of a LightningStor token (documented in the package README):

- ``sub``: the principal id; ``org``: its org id; ``project``: its project id (absent or empty
  for an org-level principal);
- ``iss`` and ``aud``: checked when ``iam.issuer`` / ``iam.audience`` are set;
- ``exp`` (required), ``iat``, ``nbf``, ``jti``.

Only asymmetric algorithms are accepted (ES256, RS256, EdDSA): ``alg: none`` and HS* are refused
before any key is looked at, so a token "signed" with the public key as an HMAC secret fails.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet
from joserfc.jwt import JWTClaimsRegistry

from lightningstor_types.errors import Unauthenticated
from lightningstor_types.scope import Principal

ALGORITHMS = ["ES256", "RS256", "EdDSA"]
SIGNING_ALG = "ES256"
SIGNING_KEY_FILE = "iam-signing-key.json"
DEFAULT_ISSUER = "lightningstor-embedded-iam"
JWKS_REFRESH_MIN_SECONDS = 5.0
LEEWAY_SECONDS = 30


def load_or_create_signing_key(path: Path) -> ECKey:
    """The P-256 key in ``path`` (a private JWK), created 0600 on first use."""
    if path.exists():
        return ECKey.import_key(json.loads(path.read_text()))
    key = ECKey.generate_key("P-256", private=True)
    data = key.as_dict(private=True)
    data.update(kid=key.thumbprint(), use="sig", alg=SIGNING_ALG)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f)
        f.flush()
        os.fsync(f.fileno())
    try:
        os.link(tmp, path)  # never replace a key another process created meanwhile
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return ECKey.import_key(json.loads(path.read_text()))


def public_jwks(key: ECKey) -> dict[str, Any]:
    public = key.as_dict(private=False)
    public.update(kid=key.kid or key.thumbprint(), use="sig", alg=SIGNING_ALG)
    return {"keys": [public]}


def mint(
    key: ECKey,
    principal: Principal,
    *,
    issuer: str | None = DEFAULT_ISSUER,
    audience: str | None = None,
    ttl_seconds: float = 3600,
    now: float | None = None,
) -> str:
    """A signed token for ``principal``, valid ``ttl_seconds``."""
    issued = int(time.time() if now is None else now)
    claims: dict[str, Any] = {
        "sub": principal.principal_id,
        "org": principal.org_id,
        "iat": issued,
        "nbf": issued,
        "exp": issued + int(ttl_seconds),
        "jti": secrets.token_hex(8),
    }
    if principal.project_id:
        claims["project"] = principal.project_id
    if issuer:
        claims["iss"] = issuer
    if audience:
        claims["aud"] = audience
    header = {"alg": SIGNING_ALG, "kid": key.kid or key.thumbprint(), "typ": "JWT"}
    return jwt.encode(header, claims, key, algorithms=[SIGNING_ALG])


JwksSource = Callable[[], Awaitable[dict[str, Any]]]


def _deny(why: str) -> Unauthenticated:
    return Unauthenticated(f"Access Denied: the bearer token is not acceptable ({why})")


class TokenVerifier:
    """Verifies bearer tokens against a JWKS, fetched once and again on an unknown key id."""

    def __init__(
        self, source: JwksSource, *, issuer: str | None = None, audience: str | None = None
    ) -> None:
        self._source = source
        self._issuer = issuer
        self._audience = audience
        self._keys: KeySet | None = None
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()
        claims: dict[str, Any] = {"exp": {"essential": True}, "sub": {"essential": True}}
        claims["org"] = {"essential": True}
        if issuer:
            claims["iss"] = {"essential": True, "value": issuer}
        if audience:
            claims["aud"] = {"essential": True, "value": audience}
        self._registry = JWTClaimsRegistry(leeway=LEEWAY_SECONDS, **claims)

    async def _key_set(self, kid: str | None) -> KeySet:
        """The cached JWKS; refreshed when ``kid`` is not in it (at most every few seconds)."""
        async with self._lock:
            stale = self._keys is None or (kid is not None and not _has_kid(self._keys, kid))
            if stale and time.monotonic() - self._fetched_at >= JWKS_REFRESH_MIN_SECONDS:
                try:
                    self._keys = KeySet.import_key_set(await self._source())  # type: ignore[arg-type]
                except Exception as exc:
                    raise _deny(f"the signing keys cannot be fetched: {exc}") from None
                finally:
                    self._fetched_at = time.monotonic()
            if self._keys is None:
                raise _deny("the signing keys are unavailable")
            return self._keys

    async def verify(self, token: str) -> Principal:
        try:
            header = _header(token)
        except (ValueError, JoseError) as exc:
            raise _deny(f"malformed: {exc}") from None
        alg = header.get("alg")
        if alg not in ALGORITHMS:
            raise _deny(f"algorithm {alg!r} is not accepted")
        kid = header.get("kid")
        keys = await self._key_set(kid if isinstance(kid, str) else None)
        try:
            decoded = jwt.decode(token, keys, algorithms=ALGORITHMS)
            self._registry.validate(decoded.claims)
        except (JoseError, ValueError) as exc:
            raise _deny(str(exc) or type(exc).__name__) from None
        claims = decoded.claims
        try:
            return Principal(str(claims["sub"]), str(claims["org"]), claims.get("project") or None)
        except Exception:
            raise _deny("its sub/org/project claims are not valid ids") from None


def _has_kid(keys: KeySet, kid: str) -> bool:
    return any(k.kid == kid for k in keys.keys)


def _header(token: str) -> dict[str, Any]:
    import base64

    head = token.split(".", 1)[0]
    raw = base64.urlsafe_b64decode(head + "=" * (-len(head) % 4))
    value = json.loads(raw)
    if not isinstance(value, dict):
        raise ValueError("the header is not an object")
    return value
