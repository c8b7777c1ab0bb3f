"""The gRPC listener's connection bounds and keepalive policy, and the open-file watch."""

from lightningstor_api.connections.descriptors import DescriptorWatch
from lightningstor_api.connections.grpc_options import grpc_connection_options

__all__ = ["DescriptorWatch", "grpc_connection_options"]
