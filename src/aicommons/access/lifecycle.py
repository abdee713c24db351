"""A proposal's lifecycle as one explicit state machine (pure)::

    draft ─submit─▶ submitted ─call closes─▶ technical_check ─pass─▶ in_review ─release reviews─▶ right_to_reply
    technical_check ─pass (fast lane: technical review only)─▶ ranked
    technical_check ─fail─▶ rejected (with a written rationale)
    right_to_reply ─rank─▶ ranked ─slate approved─▶ approved ─accept─▶ active ─final report─▶ closed
    ranked ─slate approved without it─▶ rejected
    rejected ─appeal upheld─▶ the state it was rejected from (technical_check or ranked)

Every move not in ``MOVES`` is refused with a 409 that names the state and the move.
"""

from __future__ import annotations

from aicommons.access.models import ProposalStatus as S

# (from, move) -> to
MOVES: dict[tuple[S, str], S] = {
    (S.DRAFT, "submit"): S.SUBMITTED,
    (S.SUBMITTED, "close call"): S.TECHNICAL_CHECK,
    (S.TECHNICAL_CHECK, "pass technical check"): S.IN_REVIEW,
    (S.TECHNICAL_CHECK, "pass technical check (fast lane)"): S.RANKED,
    (S.TECHNICAL_CHECK, "reject"): S.REJECTED,
    (S.IN_REVIEW, "release reviews"): S.RIGHT_TO_REPLY,
    (S.RIGHT_TO_REPLY, "rank"): S.RANKED,
    (S.RANKED, "approve"): S.APPROVED,
    (S.RANKED, "reject"): S.REJECTED,
    (S.APPROVED, "accept award"): S.ACTIVE,
    (S.ACTIVE, "close with final report"): S.CLOSED,
    # An upheld appeal returns the proposal to the state it was rejected from.
    (S.REJECTED, "uphold appeal: technical check"): S.TECHNICAL_CHECK,
    (S.REJECTED, "uphold appeal: ranking"): S.RANKED,
}

# States in which something can still be said to or asked of the applicants.
UNDECIDED = (S.SUBMITTED, S.TECHNICAL_CHECK, S.IN_REVIEW, S.RIGHT_TO_REPLY, S.RANKED)
# States whose proposals are public (title, summary, institution, country, hours) through the ledger.
PUBLIC = tuple(s for s in S if s is not S.DRAFT)


class IllegalMove(Exception):
    def __init__(self, state: S, move: str) -> None:
        allowed = sorted(m for (s, m) in MOVES if s is state)
        hint = f"; from there it can: {', '.join(allowed)}" if allowed else "; nothing more can happen to it"
        super().__init__(f"a proposal that is {state.value.replace('_', ' ')} cannot {move}{hint}")
        self.state, self.move = state, move


def next_state(state: S, move: str) -> S:
    try:
        return MOVES[(state, move)]
    except KeyError:
        raise IllegalMove(state, move) from None
