"""What the site says it counts: one sentence from `[tracking]`, shown under the sign-up
form and in every newsletter's footer, so the text can never drift from the settings."""

from __future__ import annotations

from publisher.config import Config

CLICKS = {
    "off": "We do not count clicks on the links in our emails",
    "aggregate": "We count clicks on the links in our emails per link, never per person",
    "individual": (
        "We record which links in our emails you click, with your subscription, and erase "
        "that record when you ask us to forget you"
    ),
}
OPENS = {
    "off": "and we do not track whether you open them.",
    "on": "and count how many emails are opened, tied to no one.",
}
HEALTH_WARNING = (
    "[tracking] {what} on a health-related site ([site] health_related): which reader "
    "opened or clicked what can be health information (HIPAA, GDPR art. 9); consider "
    'opens = "off" and clicks = "aggregate"'
)


def notice(config: Config) -> str:
    """The privacy sentence for `config`'s tracking settings."""
    return f"{CLICKS[config.tracking.clicks]}, {OPENS[config.tracking.opens]}"


def health_warnings(config: Config) -> list[str]:
    """`check`'s one-line warning when a health-related site tracks a person's reading."""
    if not config.site.health_related:
        return []
    what = [
        *(['opens = "on"'] if config.tracking.opens == "on" else []),
        *(['clicks = "individual"'] if config.tracking.clicks == "individual" else []),
    ]
    return [HEALTH_WARNING.format(what=" and ".join(what))] if what else []
