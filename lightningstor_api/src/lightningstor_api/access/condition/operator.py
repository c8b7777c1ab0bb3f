"""What a condition operator is: how a policy value is read, and how a request value is tested."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


class PolicyValueError(ValueError):
    """A policy value the operator cannot read (the policy is malformed)."""


@dataclass(frozen=True, slots=True)
class Operator(Generic[T]):
    """``compile`` reads one policy value (raising :class:`PolicyValueError`); ``test`` compares one
    request value with one compiled policy value. A ``negated`` operator matches a request
    value that matches none of the policy values (and, as AWS, a key the request lacks)."""

    name: str
    compile: Callable[[str], T]
    test: Callable[[T, str], bool]
    negated: bool = False
