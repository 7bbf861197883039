"""Small helpers kept for 1.x importers."""

from typing import Union

__all__ = ["bytes_to_str", "str_to_bytes"]


def bytes_to_str(b: Union[bytes, str]) -> str:
    """Decode UTF-8 ``bytes``; ``str`` passes through."""
    return b.decode("utf-8") if isinstance(b, bytes) else b


def str_to_bytes(s: Union[bytes, str]) -> bytes:
    """Encode ``str`` as UTF-8; ``bytes`` pass through."""
    return s.encode("utf-8") if isinstance(s, str) else s
