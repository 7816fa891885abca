"""Hypothesis profiles: `ci` (default: derandomized, few examples) and `thorough` (BROOK_HYPOTHESIS_PROFILE)."""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", derandomize=True, max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("thorough", max_examples=1000, deadline=None)
settings.load_profile(os.environ.get("BROOK_HYPOTHESIS_PROFILE", "ci"))
