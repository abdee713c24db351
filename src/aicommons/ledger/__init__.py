"""The transparency ledger: every public decision, as canonical JSON entries in an append-only log."""
