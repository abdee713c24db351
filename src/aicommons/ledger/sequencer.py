"""Running the sequencer: from the command line once, or in the server in the background."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from aicommons.config import Settings
from aicommons.database import unit_of_work
from aicommons.ledger import notes, store

log = logging.getLogger("aicommons.ledger")
KEY_FILE = "ledger-ed25519.key"


def signer_for(settings: Settings) -> notes.Signer:
    """The log's signing key (generated on first use into DATA_DIR/secrets, mode 0600), named by the origin."""
    return notes.load_or_create_signer(settings.secrets_dir / KEY_FILE, settings.effective_ledger_origin)


def integrate_pending(factory: sessionmaker[Session], settings: Settings, signer: notes.Signer,
                      *, until_empty: bool = True) -> store.IntegrationResult:
    """Integrate queued entries batch by batch, one transaction per batch, and sign when due."""
    interval = timedelta(seconds=settings.ledger_checkpoint_interval_seconds)
    total = 0
    while True:
        with unit_of_work(factory) as session:
            result = store.integrate(session, signer, origin=settings.effective_ledger_origin,
                                     batch=settings.ledger_batch, checkpoint_interval=interval)
        total += result.integrated
        if not until_empty or result.integrated < settings.ledger_batch:
            return store.IntegrationResult(total, result.size, result.root, result.checkpoint)


async def run_in_background(factory: sessionmaker[Session], settings: Settings, signer: notes.Signer,
                            stop: asyncio.Event) -> None:
    """Poll for queued entries until ``stop`` is set. Errors are logged and retried, never fatal."""
    while not stop.is_set():
        try:
            await asyncio.to_thread(integrate_pending, factory, settings, signer)
        except store.LedgerCorrupt:
            log.critical("ledger sequencer stopped: the tree contradicts a signed checkpoint", exc_info=True)
            return
        except Exception:  # a database hiccup: try again on the next tick
            log.exception("ledger integration failed; retrying")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=settings.ledger_poll_seconds)
