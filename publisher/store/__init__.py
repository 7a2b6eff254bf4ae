"""The subscriber store (one package owns all SQL): subscribers, events, the delivery ledger.

`Store.open(config)` connects and migrates; the functions below take the store and an
explicit `now` (aware UTC), so every caller honours --now.
"""

from publisher.store.csvio import ImportFileError, ImportSummary, export_csv, import_csv
from publisher.store.db import Store, open_store
from publisher.store.signups import (
    CONFIRM_INTERVAL,
    claim_confirmation,
    release_confirmation,
    subscribe_pending,
)
from publisher.store.subscribers import (
    Change,
    NotFound,
    Subscriber,
    add,
    confirm,
    forget,
    get,
    get_by_email,
    get_with_key,
    iter_active,
    iter_subscribers,
    iter_unsent_confirmations,
    record_bounce,
    record_complaint,
    remove,
    set_preferences,
    token_key,
    unsubscribe,
)
from publisher.store.tallies import counts, reasons
from publisher.vocabulary import FREQUENCIES, STATUSES, SUPPRESSED

__all__ = [
    "CONFIRM_INTERVAL",
    "FREQUENCIES",
    "STATUSES",
    "SUPPRESSED",
    "Change",
    "ImportFileError",
    "ImportSummary",
    "NotFound",
    "Store",
    "Subscriber",
    "add",
    "claim_confirmation",
    "confirm",
    "counts",
    "export_csv",
    "forget",
    "get",
    "get_by_email",
    "get_with_key",
    "import_csv",
    "iter_active",
    "iter_subscribers",
    "iter_unsent_confirmations",
    "open_store",
    "record_bounce",
    "reasons",
    "record_complaint",
    "release_confirmation",
    "remove",
    "set_preferences",
    "subscribe_pending",
    "token_key",
    "unsubscribe",
]
