"""`run_async` runs a command's coroutine without asyncio.run's exit cost: on Python 3.11,
restoring the SIGINT handler formats the main task's repr, result included (seconds for a
10,000-resource plan). The result must come back without ever being formatted."""

from __future__ import annotations

from metorial_apply.cli.session import run_async


class Counted:
    def __init__(self) -> None:
        self.formatted = 0

    def __repr__(self) -> str:
        self.formatted += 1  # reprlib swallows exceptions from repr, so count instead
        return "Counted()"


def test_the_result_comes_back_unformatted() -> None:
    result = Counted()

    async def main() -> Counted:
        return result

    assert run_async(main()) is result
    assert result.formatted == 0
