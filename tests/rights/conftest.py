"""The consent tests' media and fixtures (real face photos turned into talking selfies), for the
likeness-rights tests."""

from tests.consent.conftest import _enrollment_attempts, models, platform  # noqa: F401
