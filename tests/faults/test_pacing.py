"""The shared request-weight budget on a hand-moved clock: pacing, the exchange's count, 429
pauses and 418 bans seen by every Budget on the same folder (as by every process)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qlir_core.errors import IpBanned
from qlir_core.pacing import DEFAULT_LIMIT, LEARNED_FOR_S, Budget, WeightLimit

T0 = 1_704_067_200.0  # a window boundary for every window length used here


class Clock:
    """Time that passes only when someone sleeps (or a test says so)."""

    def __init__(self, now: float = T0) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def budget(folder: Path, clock: Clock, limit: WeightLimit | None = None) -> Budget:
    return Budget("exchange:1", folder=folder, limit=limit, clock=clock, sleep=clock.sleep)


@pytest.mark.parametrize(
    ("limit", "weight"),
    [(WeightLimit(200, 2.0), 2), (WeightLimit(120, 4.0), 2), (WeightLimit(6000, 60.0), 20)],
)
def test_no_window_of_the_exchange_sees_more_than_the_limit_less_the_reserve(
    tmp_path: Path, limit: WeightLimit, weight: int
) -> None:
    clock = Clock()
    paced = budget(tmp_path, clock, limit)
    windows = 4
    sent = []
    while clock.now < T0 + windows * limit.window_s:
        sent.append(paced.acquire(weight).at)
        clock.now += 0.001  # each request takes a millisecond
    times = np.array(sent)
    # Every window the exchange could be counting, whatever its offset from our clock.
    for offset in np.linspace(0, limit.window_s, 41)[:-1]:
        edges = np.arange(T0 + offset, T0 + windows * limit.window_s, limit.window_s)
        counts = np.histogram(times, bins=edges)[0] * weight
        assert counts.max() <= limit.weight - limit.reserve
    used = weight * len(sent) / (windows * limit.weight)
    assert used >= 0.9, f"only {used:.0%} of the budget used"


def test_an_exchange_count_higher_than_ours_holds_back_until_the_window_ends(
    tmp_path: Path,
) -> None:
    clock = Clock(T0 + 0.5)
    paced = budget(tmp_path, clock, WeightLimit(200, 2.0))
    ticket = paced.acquire(2)
    paced.observe(ticket, 195)  # someone else on this IP spent the window
    assert paced.status().used == 195
    paced.acquire(2)
    assert clock.now == pytest.approx(T0 + 2.01)
    assert paced.status().used == 2


def test_a_count_taken_in_the_first_moments_of_a_window_may_be_the_last_ones(
    tmp_path: Path,
) -> None:
    clock = Clock(T0 + 0.05)  # our window started 50 ms ago; the exchange's may not have
    paced = budget(tmp_path, clock, WeightLimit(200, 2.0))
    paced.observe(paced.acquire(2), 190)
    assert paced.status().used == 2


def test_a_429_pauses_every_budget_on_the_folder(tmp_path: Path) -> None:
    clock = Clock(T0 + 0.5)
    one, other = budget(tmp_path, clock), budget(tmp_path, clock)
    one.pause(1.5)
    other.acquire(2)
    assert clock.now >= T0 + 2.0


def test_a_418_stops_every_budget_on_the_folder_until_the_ban_ends(tmp_path: Path) -> None:
    clock = Clock()
    one, other = budget(tmp_path, clock), budget(tmp_path, clock)
    one.ban(30)
    with pytest.raises(IpBanned, match=r"banned this IP until .* nothing is fetched") as banned:
        other.acquire(2)
    assert banned.value.retry_after == pytest.approx(30)
    assert clock.slept == []  # no waiting it out either: the caller stops
    clock.now += 30
    other.acquire(2)


def test_a_learned_limit_is_shared_and_expires(tmp_path: Path) -> None:
    clock = Clock()
    one, other = budget(tmp_path, clock), budget(tmp_path, clock)
    assert not other.knows_limit()
    one.learn(WeightLimit(100, 2.0))
    assert other.knows_limit()
    assert other.status().limit == WeightLimit(100, 2.0)
    assert other.status().learned
    clock.now += LEARNED_FOR_S
    assert other.status().limit == DEFAULT_LIMIT


def test_a_configured_limit_wins_over_a_learned_one(tmp_path: Path) -> None:
    clock = Clock()
    budget(tmp_path, clock).learn(WeightLimit(100, 2.0))
    configured = budget(tmp_path, clock, WeightLimit(300, 1.0))
    assert configured.status().limit == WeightLimit(300, 1.0)
    assert not configured.status().learned


def test_a_damaged_state_file_starts_afresh(tmp_path: Path) -> None:
    clock = Clock()
    paced = budget(tmp_path, clock)
    paced.path.parent.mkdir(parents=True, exist_ok=True)
    paced.path.write_text('{"tokens": 3, "used": ')  # a writer killed mid-write (not ours)
    paced.acquire(2)
    assert paced.status().used == 2


def test_a_budget_is_per_host(tmp_path: Path) -> None:
    one = Budget.for_url("http://127.0.0.1:8001", folder=tmp_path)
    other = Budget.for_url("http://127.0.0.1:8002/", folder=tmp_path)
    one.ban(60)
    other.acquire(2)
    assert one.path.name == "127.0.0.1_8001.json"
