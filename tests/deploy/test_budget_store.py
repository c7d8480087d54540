"""The request-weight budget in Redis: what one worker spends, pauses or is banned for, every
other worker sees, whatever its budget folder; the file store stays the default."""

from __future__ import annotations

import pytest

from qlir_core.budget_store import STORE_VAR, FileStore, RedisStore, store_setting
from qlir_core.errors import ConfigError, IpBanned, NetworkError
from qlir_core.pacing import Budget, WeightLimit
from qlir_dagster import config
from tests.deploy.servers import free_port

LIMIT = WeightLimit(100, 60.0)


def two_machines(tmp_path, store: str, key: str) -> tuple[Budget, Budget]:
    return (
        Budget(key, folder=tmp_path / "a", limit=LIMIT, store=store),
        Budget(key, folder=tmp_path / "b", limit=LIMIT, store=store),
    )


def test_weight_spent_by_one_worker_counts_for_the_other(tmp_path, redis_url):
    one, two = two_machines(tmp_path, redis_url, "spent")
    one.acquire(2)
    one.acquire(2)
    assert two.status().used == 4
    two.acquire(2)
    assert one.status().used == 6
    assert not (tmp_path / "a").exists()  # nothing kept on disk


def test_a_429_pause_and_a_418_ban_hold_back_every_worker(tmp_path, redis_url):
    one, two = two_machines(tmp_path, redis_url, "paused")
    one.pause(30)
    assert two.status().paused_until == pytest.approx(one.status().paused_until)
    one.ban(120)
    with pytest.raises(IpBanned, match="banned this IP"):
        two.acquire(2)


def test_the_learned_limit_is_shared(tmp_path, redis_url):
    one = Budget("learned", folder=tmp_path / "a", store=redis_url)
    two = Budget("learned", folder=tmp_path / "b", store=redis_url)
    assert not two.knows_limit()
    one.learn(WeightLimit(1200, 60.0))
    assert two.knows_limit()
    assert two.status().limit == WeightLimit(1200, 60.0)


def test_the_file_store_stays_the_default(tmp_path, monkeypatch):
    monkeypatch.delenv(STORE_VAR, raising=False)
    budget = Budget("host:1", folder=tmp_path / "budget")
    assert isinstance(budget.store, FileStore)
    budget.acquire(2)
    assert budget.path == tmp_path / "budget" / "host_1.json"
    assert budget.path.exists()


def test_the_variable_chooses_redis(tmp_path, monkeypatch, redis_url):
    monkeypatch.setenv(STORE_VAR, redis_url)
    budget = Budget.for_url("http://127.0.0.1:9/", folder=tmp_path / "budget")
    assert isinstance(budget.store, RedisStore)
    assert budget.store.key == "qlir:budget:127.0.0.1_9"


@pytest.mark.parametrize("value", ["redis", "postgres://db/x", "redis://", "memcached://h:1"])
def test_a_bad_store_is_one_line_naming_the_valid_forms(value):
    with pytest.raises(ConfigError) as caught:
        store_setting(value)
    assert str(caught.value) == (
        f"QLIR_BUDGET_STORE={value!r} is invalid: expected file or redis://host:port/db "
        "(rediss:// for TLS)"
    )


def test_a_password_in_the_url_is_never_shown():
    with pytest.raises(ConfigError) as caught:
        store_setting("bogus://user:s3cret@host:1/0")
    assert "s3cret" not in str(caught.value)


def test_the_setting_is_checked_when_the_definitions_load(tmp_path):
    env = {"QLIR_CONFIG": "/dev/null", "QLIR_BUDGET_STORE": "redis:/nohost"}
    with pytest.raises(ConfigError) as caught:
        config.load(env)
    assert str(caught.value) == (
        "QLIR_BUDGET_STORE='redis:/nohost' is invalid: expected file or redis://host:port/db "
        "(rediss:// for TLS)"
    )
    good = config.load({"QLIR_CONFIG": "/dev/null", "QLIR_BUDGET_STORE": "redis://r:6379/0"})
    assert good.budget_store == "redis://r:6379/0"
    assert config.load({"QLIR_CONFIG": "/dev/null"}).budget_store == "file"


def test_an_unreachable_server_is_a_network_error(tmp_path):
    budget = Budget("gone", folder=tmp_path, store=f"redis://127.0.0.1:{free_port()}/0")
    with pytest.raises(NetworkError, match=r"request-weight budget on redis://127\.0\.0\.1:\d+/0"):
        budget.acquire(2)
