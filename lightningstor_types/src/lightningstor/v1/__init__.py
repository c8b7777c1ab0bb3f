"""Generated protobuf code (package path mirrors proto/); regenerate with scripts/gen_protos.py."""
