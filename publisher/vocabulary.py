"""The words the store keeps in its state columns: a subscriber's status and frequency, a
staff member's role.

Here, outside `publisher.store`, so that the command line can offer them as choices
without importing SQLAlchemy (`publisher --help` lists every command's options).
"""

SUPPRESSED = ("unsubscribed", "bounced", "complained")  # never mailed again by a sign-up
STATUSES = ("pending", "active", *SUPPRESSED)  # subscribers.status
FREQUENCIES = ("each", "digest")  # subscribers.frequency
ROLES = ("author", "editor", "admin")  # staff.role, least to most
