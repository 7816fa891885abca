"""Test support shipped with brook: a real broker process for tests, fakes that pass the contract suites."""

from brook.testing.broker_process import BrookProcess

__all__ = ["BrookProcess"]
