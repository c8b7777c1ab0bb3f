"""Server-side encryption: master keys behind a KeyManager, sealed blocks of chunk data."""

from lightningstor_api.encryption.blocks import (
    BLOCK_SIZE,
    TAG_SIZE,
    BlockOpener,
    BlockSealer,
    open_blocks,
    sealed_size,
)
from lightningstor_api.encryption.keymaster import (
    ChosenKey,
    KeyManager,
    StaticKeyManager,
    UnknownKeyError,
    load_key_manager,
)

__all__ = [
    "BLOCK_SIZE",
    "TAG_SIZE",
    "BlockOpener",
    "BlockSealer",
    "ChosenKey",
    "KeyManager",
    "StaticKeyManager",
    "UnknownKeyError",
    "load_key_manager",
    "open_blocks",
    "sealed_size",
]
