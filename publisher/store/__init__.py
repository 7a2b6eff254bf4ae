"""The subscriber store (one package owns all SQL): subscribers, events, the delivery ledger."""
