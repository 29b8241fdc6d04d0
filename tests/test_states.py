"""The transition table: every legal change is allowed, every other one raises."""

from __future__ import annotations

import itertools

import pytest

from integrations.store.states import (
    TRANSITIONS,
    IllegalTransitionError,
    ProcessingStatus,
    check_transition,
    restart_point,
)

S = ProcessingStatus
PAIRS = list(itertools.product(S, S))
LEGAL = [(a, b) for a, b in PAIRS if b in TRANSITIONS[a]]
ILLEGAL = [(a, b) for a, b in PAIRS if b not in TRANSITIONS[a]]


@pytest.mark.parametrize(("current", "target"), LEGAL, ids=lambda s: s.value)
def test_legal_transition_passes(current: S, target: S) -> None:
    check_transition(1, current, target)


@pytest.mark.parametrize(("current", "target"), ILLEGAL, ids=lambda s: s.value)
def test_illegal_transition_raises(current: S, target: S) -> None:
    with pytest.raises(IllegalTransitionError, match=f"{current} -> {target}"):
        check_transition(7, current, target)


def test_the_pipeline_path_is_legal_and_skipping_a_stage_is_not() -> None:
    path = [S.INITIALIZED, S.DOWNLOADING, S.DOWNLOADED, S.PROCESSING, S.PROCESSED]
    path += [S.UPLOADING, S.UPLOADED, S.EXPIRED]
    for current, target in itertools.pairwise(path):
        check_transition(1, current, target)
    for current, target in [(S.INITIALIZED, S.PROCESSING), (S.DOWNLOADED, S.UPLOADING)]:
        with pytest.raises(IllegalTransitionError):
            check_transition(1, current, target)


def test_expired_is_final_and_no_status_moves_to_itself() -> None:
    assert TRANSITIONS[S.EXPIRED] == frozenset()
    assert all(status not in TRANSITIONS[status] for status in S)


@pytest.mark.parametrize(
    ("status", "last_good", "expected"),
    [
        (S.DOWNLOADING, S.INITIALIZED, S.INITIALIZED),
        (S.PROCESSING, S.DOWNLOADED, S.DOWNLOADED),
        (S.UPLOADING, S.PROCESSED, S.PROCESSED),
        (S.FAILED, S.DOWNLOADED, S.DOWNLOADED),
        (S.FAILED, S.PROCESSED, S.PROCESSED),
        (S.UPLOADED, S.PROCESSED, S.UPLOADED),
    ],
)
def test_restart_point(status: S, last_good: S, expected: S) -> None:
    assert restart_point(status, last_good) == expected
