"""Generated protobuf code (package path mirrors proto/)."""
