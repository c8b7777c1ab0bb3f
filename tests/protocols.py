"""Protocol conformance checked at run time (mypy does not type-check tests/, and an annotation
such as ``_: Proto = obj`` checks nothing when the test runs)."""

from __future__ import annotations

import inspect
from typing import Any


def protocol_members(protocol: type) -> dict[str, Any]:
    """The methods a ``typing.Protocol`` declares (its own and its protocol bases')."""
    members: dict[str, Any] = {}
    for klass in reversed(protocol.__mro__):
        if klass is object or not getattr(klass, "_is_protocol", False):
            continue
        for name, value in vars(klass).items():
            if callable(value) and not name.startswith("_"):
                members[name] = value
    return members


def assert_implements(obj: object, protocol: type) -> None:
    """Every method of ``protocol`` exists on ``obj``, with the same parameter names and kinds
    and the same coroutine-ness."""
    members = protocol_members(protocol)
    assert members, f"{protocol.__name__} declares no methods"
    for name, declared in members.items():
        actual = getattr(obj, name, None)
        assert callable(actual), f"{type(obj).__name__} has no {name}() of {protocol.__name__}"
        want = [(p.name, p.kind) for p in inspect.signature(declared).parameters.values()][1:]
        have = [(p.name, p.kind) for p in inspect.signature(actual).parameters.values()]
        assert have == want, f"{type(obj).__name__}.{name}: {have}, not {protocol.__name__}: {want}"
        assert inspect.iscoroutinefunction(actual) == inspect.iscoroutinefunction(declared), (
            f"{type(obj).__name__}.{name}: async-ness differs from {protocol.__name__}"
        )
