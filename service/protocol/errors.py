"""The one refusal every decoder raises: a 4xx status and a message naming the problem."""

from __future__ import annotations


class InputError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers
