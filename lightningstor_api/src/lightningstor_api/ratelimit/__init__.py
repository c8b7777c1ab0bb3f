"""Per-tenant request and bandwidth limits: token buckets per org and project in each server."""

from lightningstor_api.ratelimit.bucket import TokenBucket
from lightningstor_api.ratelimit.limiter import Grant, RateLimiter

__all__ = ["Grant", "RateLimiter", "TokenBucket"]
