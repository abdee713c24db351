"""Recording and reading the economic figures contributions are computed from."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from aicommons import clock
from aicommons.errors import invalid_field
from aicommons.governance.models import EconomicFigure
from aicommons.identity.service import get_member_state


def record_economic_figure(session: Session, *, member_state_code: str, year: int, nni_million_eur: int | None,
                           gdp_million_eur: int | None, source: str) -> EconomicFigure:
    """Enter (or correct) one year's figures for a state; a figure without a source is refused."""
    state = get_member_state(session, member_state_code)
    if not source.strip():
        raise invalid_field(("body", "source"), "every figure needs its source")
    if nni_million_eur is None and gdp_million_eur is None:
        raise invalid_field(("body", "nni_million_eur"), "give the net national income, the GDP, or both")
    for name, value in (("nni_million_eur", nni_million_eur), ("gdp_million_eur", gdp_million_eur)):
        if value is not None and value <= 0:
            raise invalid_field(("body", name), "must be a positive number of millions of euros")
    figure = session.scalar(select(EconomicFigure).where(EconomicFigure.member_state_code == state.code,
                                                         EconomicFigure.year == year))
    if figure is None:
        figure = EconomicFigure(member_state_code=state.code, year=year)
        session.add(figure)
    figure.nni_million_eur = nni_million_eur
    figure.gdp_million_eur = gdp_million_eur
    figure.source = source.strip()
    figure.recorded_at = clock.now()
    session.flush()
    return figure


def figures_by_state(session: Session) -> dict[str, list[EconomicFigure]]:
    """Every state's figures, newest year first."""
    out: dict[str, list[EconomicFigure]] = {}
    for figure in session.scalars(select(EconomicFigure).order_by(EconomicFigure.member_state_code,
                                                                  EconomicFigure.year.desc())):
        out.setdefault(figure.member_state_code, []).append(figure)
    return out
