"""Helpers for testing code that uses turnkeeper_trio, on Trio's mock clock."""

from ._mock_wall_clock import MockWallClock as MockWallClock

__all__ = ["MockWallClock"]
