"""Shapes every resource shares: errors, and the answers any route may give."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Model(BaseModel):
    """A request body: unknown fields are refused (422), so a typo in a script is not
    silently ignored. Flags are `StrictBool`: "yes" is not taken for true."""

    model_config = ConfigDict(extra="forbid")


class Answer(BaseModel):
    """A response body."""


class Problem(Answer):
    """What went wrong, in one sentence a person can act on."""

    detail: str


class Done(Answer):
    """A change that has nothing else to say."""

    ok: bool = True
    message: str = ""


def answers(*codes: int) -> dict[int | str, dict]:
    """OpenAPI entries for the error codes a route may answer, besides 401/403/429/503."""
    return {code: {"model": Problem} for code in codes}


# Every route may answer these: not signed in, not allowed, too fast, database busy.
COMMON = answers(401, 403, 429, 503)
