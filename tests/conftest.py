"""Shared pytest settings. Async tests use anyio's plugin: mark them `@pytest.mark.anyio`."""

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
