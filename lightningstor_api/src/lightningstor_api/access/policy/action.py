"""Actions as a bucket policy names them (``s3:GetObject``, ``s3:Get*``, ``s3:*``, ``*``),
resolved once, at parse time, to our actions through :data:`S3_ACTIONS`."""

from __future__ import annotations

from lightningstor_api.access.condition.string import glob
from lightningstor_types.actions import S3_ACTIONS, Action


class ActionError(ValueError):
    """An Action no S3 action matches, or one with a wildcard in its service part."""


def parse_action(text: object) -> frozenset[Action]:
    """Our actions that the S3 action pattern ``text`` covers."""
    if not isinstance(text, str):
        raise ActionError("Policy has invalid action")
    if text == "*":
        return frozenset(a for actions in S3_ACTIONS.values() for a in actions)
    service, sep, name = text.partition(":")
    if not sep or service.lower() != "s3" or not name:
        raise ActionError(f"Policy has invalid action: {text}")
    pattern = glob(name.lower())
    covered = [
        a for s3, acts in S3_ACTIONS.items() if pattern.fullmatch(s3[3:].lower()) for a in acts
    ]
    if not covered:
        raise ActionError(f"Policy has invalid action: {text}")
    return frozenset(covered)
