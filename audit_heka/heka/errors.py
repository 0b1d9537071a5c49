"""Exceptions raised by the Heka wire-format code."""

from __future__ import annotations


class HekaError(Exception):
    """Base class for every error of the Heka wire format."""


class EncodeError(HekaError):
    """A message cannot be encoded (a value out of range for its protobuf type)."""


class DecodeError(HekaError):
    """Bytes that are not a valid Heka Message protobuf."""


class FramingError(HekaError):
    """A frame cannot be built."""


class MessageTooLarge(FramingError):
    """The message is larger than the receiver's max_message_size.

    Heka discards such a frame (``message exceeds the maximum length``), so
    emitting it would lose the event silently on the far side: we refuse it
    here, where it can still be counted.
    """

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"message of {size} bytes exceeds max_message_size {limit}")
        self.size = size
        self.limit = limit
