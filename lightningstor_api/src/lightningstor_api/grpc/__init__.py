"""The gRPC API: thin servicers over the core, one interceptor for request ids and errors.

Modules: ``calls`` (the interceptor), ``errors`` (error → status), ``auth`` (who is calling),
``buckets``/``objects``/``credentials`` (the servicers) and ``server`` (the process).
"""
