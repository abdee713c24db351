"""The proposal state machine: every move not in the table is refused, naming the state."""

from __future__ import annotations

import pytest

from aicommons.access.lifecycle import MOVES, IllegalMove, next_state
from aicommons.access.models import ProposalStatus as S

ALL_MOVES = sorted({move for _, move in MOVES})


@pytest.mark.parametrize("state", list(S))
@pytest.mark.parametrize("move", ALL_MOVES)
def test_only_listed_moves_are_legal(state, move):
    if (state, move) in MOVES:
        assert next_state(state, move) is MOVES[(state, move)]
    else:
        with pytest.raises(IllegalMove) as caught:
            next_state(state, move)
        assert state.value.replace("_", " ") in str(caught.value)


def test_every_state_is_reachable_from_draft_and_closed_is_final():
    reached, frontier = {S.DRAFT}, [S.DRAFT]
    while frontier:
        state = frontier.pop()
        for (origin, _), target in MOVES.items():
            if origin is state and target not in reached:
                reached.add(target)
                frontier.append(target)
    assert reached == set(S)
    assert not [m for (origin, m) in MOVES if origin is S.CLOSED]


def test_a_decision_is_approved_or_rejected_only_from_ranked_or_the_technical_check():
    assert {origin for (origin, _), target in MOVES.items() if target is S.APPROVED} == {S.RANKED}
    assert {origin for (origin, _), target in MOVES.items() if target is S.REJECTED} == {S.RANKED,
                                                                                         S.TECHNICAL_CHECK}
