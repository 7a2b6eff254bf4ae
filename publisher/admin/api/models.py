"""Shapes every resource shares: errors, and the answers any route may give."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path
from pydantic import BaseModel, ConfigDict

# Path parameters, in the shapes the program makes them (a name with a line break or a
# slash could never be found, and would not reach the API's routes).
Slug = Annotated[str, Path(pattern=r"^[A-Za-z0-9_~-][A-Za-z0-9._~-]{0,99}$")]
CampaignKey = Annotated[str, Path(pattern=r"^[a-z]+:[A-Za-z0-9._~-]{1,195}$")]
JobId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,40}$")]


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


class FieldProblem(Answer):
    """A value of the request that does not fit its declared shape."""

    loc: list[str | int]  # where: ["body", "title"], ["query", "page"]
    msg: str
    type: str


class LineProblem(Answer):
    """A problem `publisher check` finds in a post, at a line of its file."""

    line: int
    message: str


class Invalid(Answer):
    """422: the request cannot be done as sent; nothing was changed. `detail` lists the
    request's values that do not fit, or says in a sentence what to fix; `problems` are a
    post's, when `publisher check` would refuse it."""

    detail: str | list[FieldProblem]
    problems: list[LineProblem] = []


def answers(*codes: int) -> dict[int | str, dict]:
    """OpenAPI entries for the error codes a route may answer, besides 401/403/429/503."""
    return {code: {"model": Invalid if code == 422 else Problem} for code in codes}


# Every route may answer these: not signed in, not allowed, a request that cannot be done,
# too fast, database busy.
COMMON = answers(401, 403, 422, 429, 503)
