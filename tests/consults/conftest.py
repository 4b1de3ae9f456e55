"""The consult tests' network (see network.py)."""

from tests.consults.network import net

__all__ = ["net"]
