"""The words the store keeps in its state columns: a subscriber's status and frequency, a
staff member's role, a delivery's state.

Here, outside `publisher.store`, so that what only names them does not import SQLAlchemy:
the command line offering them as choices (`publisher --help` lists every command's
options), the transports reporting a message's result, the site build's email archive.
"""

SUPPRESSED = ("unsubscribed", "bounced", "complained")  # never mailed again by a sign-up
STATUSES = ("pending", "active", *SUPPRESSED)  # subscribers.status
FREQUENCIES = ("each", "digest")  # subscribers.frequency
ROLES = ("author", "editor", "admin")  # staff.role, least to most

# deliveries.state; a transport's result for one message is SENT, DEFERRED, FAILED or UNKNOWN.
QUEUED, SENDING, SENT, DEFERRED, FAILED, SKIPPED, BOUNCED, UNKNOWN = (
    "queued",
    "sending",
    "sent",
    "deferred",
    "failed",
    "skipped",
    "bounced",  # sent, then a bounce came back for it (publisher inbound)
    "unknown",  # the relay never answered the end of the message: maybe sent, never resent
)
