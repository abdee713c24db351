"""Import every domain's tables so ``Base.metadata`` knows them all (for Alembic and tests)."""

from __future__ import annotations


def import_all_models() -> None:
    from aicommons.access import models as _access  # noqa: F401
    from aicommons.compute import models as _compute  # noqa: F401
    from aicommons.governance import models as _governance  # noqa: F401
    from aicommons.identity import models as _identity  # noqa: F401
    from aicommons.ledger import models as _ledger  # noqa: F401
