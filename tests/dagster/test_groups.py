"""Series groups: each group's own klines, studies, signals, jobs and schedules, so that no asset
holds more partitions than Dagster handles well; as a user configures and runs them."""

import os
import subprocess
import sys
from datetime import UTC, date, datetime

import dagster as dg
import pytest

from qlir_core.errors import ConfigError
from qlir_core.series import Series
from qlir_core.storage import Store
from qlir_dagster import config
from qlir_dagster.console import user_message
from qlir_dagster.definitions import build_defs
from qlir_dagster.defs.binance.partitions import key_problem
from qlir_dagster.groups import PARTITIONS_PER_ASSET
from qlir_sim import Synthetic, serve
from tests.conftest import REPO, shipped_home

GROUPS_TOML = """start_date = "2024-01-01"
[groups]
majors = ["BTCUSDT-1m", "ETHUSDT-1m"]
alts = ["SOLUSDT-1m"]
"""


@pytest.fixture
def grouped(tmp_path):
    path = tmp_path / "qlir.toml"
    path.write_text(GROUPS_TOML)
    return {"QLIR_CONFIG": str(path), "QLIR_DATA_ROOT": str(tmp_path / "data")}


def keys(repository: dg.RepositoryDefinition) -> set[str]:
    return {k.to_user_string() for k in repository.asset_graph.get_all_asset_keys()}


def test_each_group_has_its_own_assets_jobs_and_schedules(grouped):
    settings = config.load(grouped)
    assert [s.key for s in settings.series] == ["BTCUSDT-1m", "ETHUSDT-1m", "SOLUSDT-1m"]
    repository = build_defs(settings).get_repository_def()
    for group in ("majors", "alts"):
        assert {f"{group}/klines", f"{group}/sma_study", f"{group}/signals"} <= keys(repository)
        for job in ("klines_job", "klines_checks", "studies_job", "klines_freshness"):
            assert repository.has_job(f"{group}_{job}")
    assert "klines" not in keys(repository)
    schedules = {s.name for s in repository.schedule_defs}
    assert {"daily_majors_klines", "current_day_alts_klines"} <= schedules
    graph = repository.asset_graph
    majors = graph.get(dg.AssetKey(["majors", "klines"])).partitions_def
    assert majors is not None
    assert isinstance(majors, dg.MultiPartitionsDefinition)
    series = majors.get_partitions_def_for_dimension("series").get_partition_keys()
    assert series == ["BTCUSDT-1m", "ETHUSDT-1m"]
    # A group's studies and signals read only their own group's klines.
    assert graph.get(dg.AssetKey(["alts", "signals"])).parent_keys == {
        dg.AssetKey(["alts", "klines"]),
        dg.AssetKey(["alts", "sma_study"]),
        dg.AssetKey(["alts", "band_touch_study"]),
    }
    assert graph.get(dg.AssetKey(["alts", "sma_study"])).parent_keys == {
        dg.AssetKey(["alts", "klines"])
    }


def test_a_group_schedule_requests_only_its_series(grouped):
    repository = build_defs(config.load(grouped)).get_repository_def()
    daily = repository.get_schedule_def("daily_majors_klines")
    at = datetime(2024, 3, 2, 0, 15, tzinfo=UTC)
    context = dg.build_schedule_context(scheduled_execution_time=at, repository_def=repository)
    requests = daily.evaluate_tick(context).run_requests
    assert requests is not None
    assert [r.partition_key for r in requests] == ["2024-03-01|BTCUSDT-1m", "2024-03-01|ETHUSDT-1m"]
    assert daily.job_name == "majors_klines_job"


def test_400_series_in_groups_stay_within_dagsters_guidance():
    """All USDT symbols at 1m since 2017-08-17: one asset would hold 1.36 million partitions;
    groups of as many series as 100,000 partitions allow (29 in 2026) hold every one."""
    days = (datetime.now(UTC).date() - date(2017, 8, 17)).days + 1
    size = PARTITIONS_PER_ASSET // days
    made_up = [f"S{i:03d}USDT-1m" for i in range(400)]
    groups = ";".join(
        f"g{n:02d}=" + ",".join(made_up[i : i + size]) for n, i in enumerate(range(0, 400, size))
    )
    env = {"QLIR_CONFIG": "/dev/null", "QLIR_GROUPS": groups, "QLIR_START_DATE": "2017-08-17"}
    graph = build_defs(config.load(env)).get_repository_def().asset_graph
    counts = {}
    for key in graph.get_all_asset_keys():
        partitions_def = graph.get(key).partitions_def
        assert partitions_def is not None
        counts[key.to_user_string()] = partitions_def.get_num_partitions()
    klines = {k: n for k, n in counts.items() if k.endswith("/klines")}
    assert len(klines) == -(-400 // size)
    assert sum(klines.values()) == 400 * days
    assert max(counts.values()) <= PARTITIONS_PER_ASSET


@pytest.mark.parametrize(
    ("groups", "message"),
    [
        (
            "Majors=BTCUSDT-1m",
            "QLIR_GROUPS='Majors=BTCUSDT-1m' is invalid: group name 'Majors': expected a "
            "lower-case letter, then up to 39 lower-case letters, digits or underscores",
        ),
        (
            "a=BTCUSDT-1m;b=ETHUSDT-1m,BTCUSDT-1m",
            "QLIR_GROUPS='a=BTCUSDT-1m;b=ETHUSDT-1m,BTCUSDT-1m' is invalid: BTCUSDT-1m is in "
            "both group 'a' and group 'b'",
        ),
        (
            "a=",
            "QLIR_GROUPS='a=' is invalid: group 'a' has no series; expected at least one "
            "SYMBOL-interval",
        ),
        (
            "BTCUSDT-1m",
            "QLIR_GROUPS='BTCUSDT-1m' is invalid: 'BTCUSDT-1m': expected name=SYMBOL-interval,… "
            "per group, joined by ;",
        ),
        (
            " ; ",
            "QLIR_GROUPS=' ; ' is invalid: no group given; expected name=SYMBOL-interval,… per "
            "group, joined by ;",
        ),
        (
            "a=BTCUSDT-1m;a=ETHUSDT-1m",
            "QLIR_GROUPS='a=BTCUSDT-1m;a=ETHUSDT-1m' is invalid: group 'a' is named twice; "
            "expected each name once",
        ),
    ],
    ids=["name", "twice", "empty", "no-name", "none", "name-twice"],
)
def test_a_bad_group_names_the_variable_and_the_valid_form(groups, message):
    with pytest.raises(ConfigError) as raised:
        config.load({"QLIR_CONFIG": "/dev/null", "QLIR_GROUPS": groups})
    assert str(raised.value) == message


def test_the_environment_chooses_between_series_and_groups(grouped, tmp_path):
    settings = config.load(grouped | {"QLIR_SERIES": "XRPUSDT-1m"})  # over the file's [groups]
    assert (settings.groups, settings.series) == ((), (Series.parse("XRPUSDT-1m"),))
    listed = tmp_path / "series.toml"
    listed.write_text('series = ["BTCUSDT-1m"]\n')
    settings = config.load({"QLIR_CONFIG": str(listed), "QLIR_GROUPS": "a=ETHUSDT-1m"})
    assert [g.name for g in settings.series_groups] == ["a"]
    assert settings.series == (Series.parse("ETHUSDT-1m"),)


def test_groups_and_series_from_one_place_are_refused(tmp_path):
    both = {"QLIR_SERIES": "BTCUSDT-1m", "QLIR_GROUPS": "a=BTCUSDT-1m"}
    with pytest.raises(ConfigError, match=r"both series .* and groups .* are set"):
        config.load({"QLIR_CONFIG": "/dev/null"} | both)
    path = tmp_path / "qlir.toml"
    path.write_text('series = ["BTCUSDT-1m"]\n[groups]\na = ["ETHUSDT-1m"]\n')
    with pytest.raises(ConfigError, match=r"both series .* and groups .* are set"):
        config.load({"QLIR_CONFIG": str(path)})


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--select", "key:alts/klines", "--partition", "2024-01-02|BTCUSDT-1m"],
            "the series is in group 'majors' (select majors/klines); expected",
        ),
        (
            ["-j", "alts_klines_job", "--partition", "2024-01-02|BTCUSDT-1m"],
            "the series is in group 'majors' (select majors/klines)",
        ),
        (
            ["--select", "group:binance", "--partition", "2024-01-02|BTCUSDT-1m"],
            "partition key '2024-01-02|BTCUSDT-1m' is not a partition of the selected asset: "
            "its series is in group 'majors' (select majors/klines)",
        ),
        (
            [
                "--select",
                "group:binance",
                "--partition-range",
                "2024-01-02|BTCUSDT-1m...2024-01-01|ETHUSDT-1m",
            ],
            "both ends must be of the same series, the earlier day first (FIRST...LAST); "
            "'2024-01-02|BTCUSDT-1m' is in group 'majors' (select majors/klines)",
        ),
    ],
    ids=["key-selection", "job", "unknown", "unknown-range"],
)
def test_a_key_of_another_group_is_named_however_the_asset_is_chosen(
    grouped, monkeypatch, argv, message
):
    settings = config.load(grouped)
    monkeypatch.setattr(config, "load", lambda: settings)
    error = dg.DagsterInvalidSubsetError("... the passed partition key `2024-01-02|BTCUSDT-1m` ...")
    said = user_message(error, ["dagster", "asset", "materialize", *argv])
    assert said is not None
    assert message in said


def test_a_group_is_told_apart_from_one_whose_name_ends_in_its(monkeypatch):
    groups = "majors=BTCUSDT-1m;alts=SOLUSDT-1m;big_alts=XRPUSDT-1m"
    settings = config.load({"QLIR_CONFIG": "/dev/null", "QLIR_GROUPS": groups})
    monkeypatch.setattr(config, "load", lambda: settings)
    error = dg.DagsterInvalidSubsetError("... the passed partition key `2024-01-02|BTCUSDT-1m` ...")
    for argv in (["--select", "big_alts/klines"], ["-j", "big_alts_klines_job"]):
        said = user_message(error, ["dagster", *argv, "--partition", "2024-01-02|BTCUSDT-1m"])
        assert said is not None
        assert said.endswith("one of the series of group 'big_alts': XRPUSDT-1m"), argv


# -- from a shell, as a user runs it -------------------------------------------------------------


def dagster(env: dict[str, str], *arguments: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "dagster", *arguments, "-m", "qlir_dagster.definitions"]
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


def materialize(
    env: dict[str, str], asset: str, *partitions: str
) -> subprocess.CompletedProcess[str]:
    return dagster(env, "asset", "materialize", "--select", asset, *partitions)


@pytest.mark.slow
def test_a_group_materializes_and_checks_its_own_series_from_the_cli(grouped, tmp_path):
    market = Synthetic(["BTCUSDT", "ETHUSDT", "SOLUSDT"], ["1m"], date(2024, 1, 1), days=3, seed=5)
    with serve(market) as url:
        env = (
            os.environ
            | grouped
            | {
                "DAGSTER_HOME": str(shipped_home(tmp_path / "home")),
                "QLIR_SOURCE": "rest",
                "QLIR_BINANCE_REST_URL": url,
                "QLIR_BINANCE_ARCHIVE_URL": url,
            }
        )
        ranged = "2024-01-01|ETHUSDT-1m...2024-01-03|ETHUSDT-1m"
        done = materialize(env, "majors/klines", "--partition-range", ranged)
        assert done.returncode == 0, done.stderr[-3000:]
        done = materialize(env, "alts/klines", "--partition", "2024-01-02|SOLUSDT-1m")
        assert done.returncode == 0, done.stderr[-3000:]
        # A series of another group is refused with where it is.
        wrong = materialize(env, "alts/klines", "--partition", "2024-01-02|BTCUSDT-1m")
    assert wrong.returncode != 0
    assert "Traceback" not in wrong.stderr
    errors = [line for line in wrong.stderr.splitlines() if line.startswith("error: ")]
    assert errors == [
        "error: partition key '2024-01-02|BTCUSDT-1m' is invalid: the series is in group "
        "'majors' (select majors/klines); expected YYYY-MM-DD|SYMBOL-interval, a day from "
        f"2024-01-01 to {datetime.now(UTC).date()} (today, UTC) and one of the series of group "
        "'alts': SOLUSDT-1m"
    ]
    store = Store(grouped["QLIR_DATA_ROOT"])
    assert store.stored_days(Series.parse("ETHUSDT-1m")) == [date(2024, 1, d) for d in (1, 2, 3)]
    assert store.stored_days(Series.parse("SOLUSDT-1m")) == [date(2024, 1, 2)]

    # The group's checks-only job re-validates its own series only, as CI runs it.
    checked = dagster(env, "job", "execute", "-j", "majors_klines_checks")
    assert checked.returncode == 0, checked.stderr[-3000:]
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        majors = dg.AssetKey(["majors", "klines"])
        assert instance.get_materialized_partitions(majors) == {
            f"2024-01-0{d}|ETHUSDT-1m" for d in (1, 2, 3)
        }
        assert instance.get_materialized_partitions(dg.AssetKey(["alts", "klines"])) == {
            "2024-01-02|SOLUSDT-1m"
        }
        run = instance.get_runs(dg.RunsFilter(job_name="majors_klines_checks"))[0]
        evaluations = instance.all_logs(
            run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
        )
        evaluated = {e.dagster_event.event_specific_data.partition for e in evaluations}
    assert evaluated == {f"2024-01-0{d}|ETHUSDT-1m" for d in (1, 2, 3)}


def test_a_key_problem_lists_a_long_series_list_shortly():
    keys = [f"S{i:02d}USDT-1m" for i in range(20)]
    env = {"QLIR_CONFIG": "/dev/null", "QLIR_SERIES": ",".join(keys)}
    problem = key_problem("2024-01-01|BTCUSDT-1m", config.load(env), date(2024, 6, 1))
    assert problem is not None
    assert problem.endswith("the series " + ", ".join(keys[:12]) + ", … and 8 more")
