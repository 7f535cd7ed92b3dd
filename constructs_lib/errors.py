"""One error type for invalid construct props, reporting every problem at once.

Props dataclasses collect their problems in ``__post_init__`` and raise a single
``PropsError``; ``main.py`` prints it without a traceback.
"""

from __future__ import annotations

from collections.abc import Iterable


class PropsError(ValueError):
    """Invalid props for one construct. ``problems`` lists each one, self-contained."""

    def __init__(self, construct: str, problems: Iterable[str]) -> None:
        self.construct = construct
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"invalid {construct} props:\n{lines}")


def raise_if(construct: str, problems: list[str]) -> None:
    """Raise ``PropsError`` when ``problems`` is not empty."""
    if problems:
        raise PropsError(construct, problems)
