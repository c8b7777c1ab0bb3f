"""Bounds on the S3 listener's connections: admission at accept, head/body/idle deadlines."""

from lightningstor_s3.connections.guard import ConnectionGuard, LimitReporter
from lightningstor_s3.connections.protocol import GuardedHttpToolsProtocol, guarded_protocol

__all__ = ["ConnectionGuard", "GuardedHttpToolsProtocol", "LimitReporter", "guarded_protocol"]
