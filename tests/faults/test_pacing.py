"""The shared request-weight budget on a hand-moved clock: pacing, the exchange's count, 429
pauses and 418 bans seen by every Budget on the same folder (as by every process); and that
folder private to its user, an unsafe one refused."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

import numpy as np
import pytest

from qlir_core.errors import ConfigError, IpBanned
from qlir_core.pacing import (
    DEFAULT_LIMIT,
    FOLDER_VAR,
    LEARNED_FOR_S,
    Budget,
    WeightLimit,
    default_folder,
)

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


# -- the folder is private to its user --------------------------------------------------------


def test_a_new_folder_is_made_private(tmp_path: Path) -> None:
    folder = tmp_path / "shared" / "budget"
    budget(folder, Clock()).acquire(2)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert folder.stat().st_uid == os.getuid()
    assert stat.S_IMODE((folder / "exchange_1.json").stat().st_mode) == 0o600


def test_a_symlinked_folder_is_refused(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    (tmp_path / "budget").symlink_to(elsewhere)  # planted, say, in a shared /tmp
    with pytest.raises(
        ConfigError, match=r"budget .* is unsafe: it is a symbolic link.*QLIR_BUDGET_DIR"
    ):
        budget(tmp_path / "budget", Clock()).acquire(2)
    assert list(elsewhere.iterdir()) == []


@pytest.mark.parametrize("mode", [0o755, 0o770, 0o707, 0o711])
def test_a_folder_others_may_enter_is_refused(tmp_path: Path, mode: int) -> None:
    folder = tmp_path / "budget"
    folder.mkdir()
    folder.chmod(mode)
    with pytest.raises(ConfigError, match=rf"has mode {mode:04o}, open to other users"):
        budget(folder, Clock()).acquire(2)
    assert list(folder.iterdir()) == []


@pytest.mark.skipif(os.getuid() != 0, reason="only root can give a folder to another user")
def test_a_folder_of_another_user_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "budget"
    folder.mkdir(mode=0o700)
    os.chown(folder, 4242, -1)
    with pytest.raises(ConfigError, match="belongs to uid 4242, not to this user"):
        budget(folder, Clock()).acquire(2)


def test_a_folder_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "budget").write_text("")
    with pytest.raises(ConfigError, match="budget folder"):
        budget(tmp_path / "budget", Clock()).acquire(2)


def test_a_symlinked_state_file_is_refused_and_never_written_through(tmp_path: Path) -> None:
    folder, target = tmp_path / "budget", tmp_path / "target"
    folder.mkdir(mode=0o700)
    target.write_text("precious")
    paced = budget(folder, Clock())
    paced.path.symlink_to(target)
    with pytest.raises(ConfigError, match=r"budget file .* is a symbolic link; remove it"):
        paced.acquire(2)
    assert target.read_text() == "precious"
    paced.path.unlink()  # removed, as the message says: it works again
    paced.acquire(2)
    assert not paced.path.is_symlink()
    assert paced.status().used == 2


def test_the_default_folder_is_chosen_by_qlir_budget_dir_then_runtime_then_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(FOLDER_VAR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "missing"))  # not there: not used
    assert default_folder() == tmp_path / "cache" / "qlir" / "budget"
    (tmp_path / "run").mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    assert default_folder() == tmp_path / "run" / "qlir" / "budget"
    monkeypatch.setenv(FOLDER_VAR, str(tmp_path / "chosen"))
    assert default_folder() == tmp_path / "chosen"
    assert Budget("exchange:1").path == tmp_path / "chosen" / "exchange_1.json"
    assert not str(default_folder()).startswith(tempfile.gettempdir() + "/qlir-budget")
