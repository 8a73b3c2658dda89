"""hello-ext: two functions implemented in C."""

from ._native import add, platform

__all__ = ["add", "platform"]
