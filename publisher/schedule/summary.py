"""What one pass did (`TickSummary`), and the problems a pass reports without stopping."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from publisher.config import Config
from publisher.errors import ContentErrors, PublisherError


class BrokenPosts(ContentErrors):
    """Posts with errors, left out of the tick; the good ones are still published."""

    exit_code = 1


class StepError(PublisherError):
    """One step, or one post's announcement, failed; the others still run. Anything
    unexpected (a bug, an odd value) is exit 1, its traceback in the debug log."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class TickSummary:
    """What one pass did (or, for a dry run, would do), for the one-line report and logs."""

    now: datetime
    published: list[str] = field(default_factory=list)  # slugs newly live
    decisions: dict[str, str] = field(default_factory=dict)  # slug -> its email decision
    build: str = ""  # the build's summary, when the site was rebuilt
    deploy: str = ""  # "ok" or "failed" when `[site] deploy` ran
    campaigns: list[str] = field(default_factory=list)  # created by this pass
    notes: list[str] = field(default_factory=list)  # skipped steps, empty digests
    confirmations: str = ""  # "sent 3 confirmations", when any were due
    deliveries: list[str] = field(default_factory=list)  # one line per campaign run
    problems: list[PublisherError] = field(default_factory=list)
    dry_run: bool = False

    @property
    def exit_code(self) -> int:
        return max((p.exit_code for p in self.problems), default=0)

    def line(self, config: Config) -> str:
        parts = []
        if self.published:
            shown = [f"{slug} ({self.decisions.get(slug, '')})" for slug in self.published[:5]]
            more = ", ..." if len(self.published) > 5 else ""
            verb = "would publish" if self.dry_run else "published"
            parts.append(f"{verb} {len(self.published)}: {', '.join(shown)}{more}")
        if self.build:
            parts.append(self.build)
        if self.deploy:
            parts.append(f"deploy {self.deploy}")
        parts += [f"created {key}" for key in self.campaigns]
        parts += [self.confirmations] if self.confirmations else []
        parts += self.deliveries + self.notes
        if self.problems:
            first = str(self.problems[0]).splitlines()[0]
            count = sum(len(str(p).splitlines()) for p in self.problems)
            more = f" (and {count - 1} more in the log)" if count > 1 else ""
            parts.append(f"problem: {first}{more}")
        when = f"{config.local(self.now):%Y-%m-%d %H:%M %Z}"
        head = "dry run, nothing written: tick" if self.dry_run else "tick"
        return f"{head} {when}: {'; '.join(parts) or 'nothing due'}"
