"""The audit log: one JSON line per authorization decision, on logger ``lightningstor.audit``.

Each line is an object with ``time`` (RFC 3339, UTC), ``request_id``, ``principal``
(``org[/project]/id``: the caller), ``action``, ``resource``, ``decision`` (``allow`` |
``deny``), ``reason`` and ``source`` (the peer address), and ``subject`` (``org[/project]/id``)
when the caller would act as another identity: a key minted for it, or one of its keys deleted.
The record's message is an :class:`AuditLine`, a dict whose text is its JSON: a handler with
the plain ``%(message)s`` format writes exactly one JSON document per line, and the server's
JSON formatter writes the fields as an object under ``msg``, encoding them once (it was twice,
a tenth of a small request's CPU with the access line). Set ``LIGHTNINGSTOR_AUDIT_FILE`` (or
call :func:`open_sink`) to send the lines to a file of their own.
"""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Protocol, cast, runtime_checkable

from lightningstor_api.authz import Authorizer, Decision
from lightningstor_types.actions import Action
from lightningstor_types.errors import AccessDenied, LightningStorError
from lightningstor_types.logs import log_time
from lightningstor_types.scope import Principal
from lightningstor_types.service import RequestContext

AUDIT_LOGGER = "lightningstor.audit"
AUDIT_FILE_ENV = "LIGHTNINGSTOR_AUDIT_FILE"

audit_log = logging.getLogger(AUDIT_LOGGER)
# One encoder: json.dumps(..., ensure_ascii=False) builds a new JSONEncoder on every call.
_ENCODE = json.JSONEncoder(ensure_ascii=False).encode


@runtime_checkable
class DecidingAuthorizer(Protocol):
    """An authorizer that can also say why (the ones of this package)."""

    async def decide(
        self,
        ctx: RequestContext,
        action: Action,
        resource: str,
        subject: Principal | None = None,
    ) -> Decision: ...


class AuditLine(dict[str, object]):
    """The fields of one decision; ``str()`` is their JSON (what text handlers write)."""

    def __str__(self) -> str:
        return _ENCODE(self)


def principal_label(principal: Principal) -> str:
    return f"{principal.scope}/{principal.principal_id}"


def record(
    ctx: RequestContext,
    action: str,
    resource: str,
    allowed: bool,
    reason: str,
    subject: Principal | None = None,
) -> None:
    """Write one audit line (with ``subject`` when the caller acts as another identity)."""
    if not audit_log.isEnabledFor(logging.INFO):
        return
    line = AuditLine({
        "time": log_time(time.time(), "Z"),
        "request_id": ctx.request_id,
        "principal": principal_label(ctx.principal),
        "action": str(action),
        "resource": resource,
        "decision": "allow" if allowed else "deny",
        "reason": reason,
        "source": ctx.source_address,
        "api": ctx.api,
    })  # fmt: skip
    if subject is not None:
        line["subject"] = principal_label(subject)
    audit_log.info(line)


_DECIDES: dict[type, bool] = {}


def can_decide(authorizer: Authorizer) -> bool:
    """``isinstance(authorizer, DecidingAuthorizer)``, remembered per class: a runtime protocol
    check walks the protocol's members every time (~5% of a small HEAD, profiled)."""
    kind = type(authorizer)
    known = _DECIDES.get(kind)
    if known is None:
        known = _DECIDES[kind] = isinstance(authorizer, DecidingAuthorizer)
    return known


async def authorize_audited(
    authorizer: Authorizer,
    ctx: RequestContext,
    action: Action,
    resource: str,
    subject: Principal | None = None,
) -> None:
    """``authorizer.authorize`` with its decision written to the audit log.

    ``subject``: the identity the caller would act as (a key for it); only an authorizer that
    can judge it (a :class:`DecidingAuthorizer`) may allow that. Raises AccessDenied when
    denied, and whatever the authorizer raises otherwise (e.g. IamUnavailable), which is
    audited as a denial too.
    """
    try:
        if can_decide(authorizer):
            decision = await cast(DecidingAuthorizer, authorizer).decide(
                ctx, action, resource, subject
            )
        elif subject is not None:
            decision = Decision(False, f"{type(authorizer).__name__} cannot judge a subject")
        else:
            await authorizer.authorize(ctx, action, resource)
            decision = Decision(True, type(authorizer).__name__)
    except AccessDenied as exc:
        record(ctx, action, resource, False, exc.message, subject)
        raise
    except LightningStorError as exc:
        record(ctx, action, resource, False, f"{exc.code}: {exc.message}", subject)
        raise
    record(ctx, action, resource, decision.allowed, decision.reason, subject)
    if not decision.allowed:
        raise AccessDenied()


def open_sink(path: str | None = None) -> logging.Handler | None:
    """Send audit lines (only them) to ``path`` or ``$LIGHTNINGSTOR_AUDIT_FILE``, if set."""
    target = path or os.environ.get(AUDIT_FILE_ENV)
    if not target:
        return None
    handler = logging.FileHandler(target, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(message)s"))
    audit_log.addHandler(handler)
    audit_log.setLevel(logging.INFO)
    audit_log.propagate = False
    return handler
