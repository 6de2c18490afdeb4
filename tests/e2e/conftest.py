"""The end-to-end tests use the broker, the generator's tools and the platform key fixtures."""

from tests.consumers.conftest import bootstrap
from tests.generator.conftest import platform, tools

__all__ = ["bootstrap", "platform", "tools"]
