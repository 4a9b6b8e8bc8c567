"""Node configuration from a mapping, a TOML file and the command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from common.config import ConfigError, load_config
from common.divisions import Tier
from common.errors import AppError, UnknownDivision

ROOT = Path(__file__).resolve().parent.parent
PARENT_URL = "http://127.0.0.1:5000"


def county(**extra: str) -> dict[str, str]:
    """Return a valid environment of county node 350623."""
    return {"NODE_CODE": "350623", "NODE_PARENT_URL": PARENT_URL, **extra}


def test_city_needs_only_code() -> None:
    config = load_config({"NODE_CODE": "350600"})
    assert config.tier is Tier.CITY
    assert config.parent_code is None


def test_village_identity() -> None:
    config = load_config(
        {"NODE_CODE": "350623100207", "NODE_PARENT_URL": "http://127.0.0.1:5003"}
    )
    assert config.tier is Tier.VILLAGE
    assert config.parent_code == "350623100"
    assert config.parent_url == "http://127.0.0.1:5003"


def test_defaults() -> None:
    config = load_config(county())
    assert config.data_dir == Path("instance") / "350623"
    assert config.sync_interval == 10.0
    assert config.batch_size == 500
    assert config.redis_url is None


def test_default_database_in_data_dir(tmp_path: Path) -> None:
    config = load_config(county(NODE_DATA_DIR=str(tmp_path)))
    expected = f"sqlite:///{tmp_path / 'node.sqlite3'}"
    assert config.resolved_database_url == expected


def test_environment_values_converted() -> None:
    config = load_config(county(NODE_SYNC_INTERVAL="2.5", NODE_BATCH_SIZE="100"))
    assert config.sync_interval == 2.5
    assert config.batch_size == 100


def test_missing_code() -> None:
    with pytest.raises(ConfigError) as raised:
        load_config({"NODE_PARENT_URL": PARENT_URL})
    assert "NODE_CODE" in raised.value.message


def test_empty_code() -> None:
    with pytest.raises(ConfigError) as raised:
        load_config({"NODE_CODE": ""})
    assert "NODE_CODE" in raised.value.message


@pytest.mark.parametrize(
    "code",
    [
        "999999",
        "350700",  # 南平市, another city
        "350699",
        "350623999",
        "350623100999",
        "35062",
        "漳浦县",
    ],
)
def test_code_outside_zhangzhou(code: str) -> None:
    with pytest.raises(UnknownDivision) as raised:
        load_config({"NODE_CODE": code, "NODE_PARENT_URL": PARENT_URL})
    assert code in raised.value.message
    assert raised.value.details == {"code": code}


@pytest.mark.parametrize(
    ("code", "parent"),
    [("350623", "350600"), ("350623100", "350623"), ("350623100207", "350623100")],
)
def test_non_city_without_parent_url(code: str, parent: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config({"NODE_CODE": code})
    assert "NODE_PARENT_URL" in raised.value.message
    assert parent in raised.value.message


def test_non_city_with_empty_parent_url() -> None:
    with pytest.raises(ConfigError) as raised:
        load_config({"NODE_CODE": "350623", "NODE_PARENT_URL": ""})
    assert "NODE_PARENT_URL" in raised.value.message


def test_city_with_parent_url() -> None:
    with pytest.raises(ConfigError) as raised:
        load_config({"NODE_CODE": "350600", "NODE_PARENT_URL": PARENT_URL})
    assert "NODE_PARENT_URL" in raised.value.message


def test_config_error_is_app_error() -> None:
    with pytest.raises(AppError) as raised:
        load_config({})
    assert raised.value.code == "invalid_config"


def write_toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "node.toml"
    path.write_text(text, "utf-8")
    return path


def test_toml_file(tmp_path: Path) -> None:
    path = write_toml(
        tmp_path,
        'code = "350623100"\n'
        'parent_url = "http://127.0.0.1:5002"\n'
        f'data_dir = "{tmp_path / "data"}"\n'
        "sync_interval = 3\n"
        "batch_size = 250\n",
    )
    config = load_config({"NODE_CONFIG": str(path)})
    assert config.code == "350623100"
    assert config.parent_url == "http://127.0.0.1:5002"
    assert config.data_dir == tmp_path / "data"
    assert config.sync_interval == 3.0
    assert config.batch_size == 250


def test_environment_wins_over_toml(tmp_path: Path) -> None:
    path = write_toml(
        tmp_path,
        'code = "350623"\nparent_url = "http://127.0.0.1:5001"\nbatch_size = 250\n',
    )
    config = load_config({"NODE_CONFIG": str(path), "NODE_BATCH_SIZE": "50"})
    assert config.batch_size == 50
    assert config.parent_url == "http://127.0.0.1:5001"


def test_toml_unknown_key(tmp_path: Path) -> None:
    path = write_toml(tmp_path, 'code = "350600"\nbatchsize = 10\n')
    with pytest.raises(ConfigError) as raised:
        load_config({"NODE_CONFIG": str(path)})
    assert "batchsize" in raised.value.message


def test_toml_code_outside_zhangzhou(tmp_path: Path) -> None:
    path = write_toml(tmp_path, 'code = "999999"\n')
    with pytest.raises(UnknownDivision) as raised:
        load_config({"NODE_CONFIG": str(path)})
    assert "999999" in raised.value.message


def test_toml_file_missing(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"
    with pytest.raises(ConfigError) as raised:
        load_config({"NODE_CONFIG": str(path)})
    assert str(path) in raised.value.message


def test_toml_file_invalid(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "code = 350600 = x\n")
    with pytest.raises(ConfigError) as raised:
        load_config({"NODE_CONFIG": str(path)})
    assert str(path) in raised.value.message


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("NODE_BATCH_SIZE", "many"),
        ("NODE_BATCH_SIZE", "2.5"),
        ("NODE_BATCH_SIZE", ""),
        ("NODE_BATCH_SIZE", "0"),
        ("NODE_BATCH_SIZE", "-1"),
        ("NODE_BATCH_SIZE", "5001"),
        ("NODE_SYNC_INTERVAL", "soon"),
        ("NODE_SYNC_INTERVAL", "0"),
        ("NODE_SYNC_INTERVAL", "-5"),
        ("NODE_SYNC_INTERVAL", "nan"),
        ("NODE_SYNC_INTERVAL", "inf"),
    ],
)
def test_bad_number(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(county(**{name: value}))
    # The message may name the variable or its field (NODE_BATCH_SIZE, batch_size).
    assert name.removeprefix("NODE_").lower() in raised.value.message.lower()


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("batch_size", "2.5"),
        ("batch_size", "true"),
        ("batch_size", '"many"'),
        ("sync_interval", '"soon"'),
        ("sync_interval", "nan"),
    ],
)
def test_toml_bad_number(tmp_path: Path, key: str, value: str) -> None:
    path = write_toml(
        tmp_path,
        f'code = "350623"\nparent_url = "{PARENT_URL}"\n{key} = {value}\n',
    )
    with pytest.raises(ConfigError) as raised:
        load_config({"NODE_CONFIG": str(path)})
    assert key in raised.value.message.lower()


def run_check(environment: dict[str, str]) -> subprocess.CompletedProcess:
    """Run ``python -m node check`` in a clean environment of node variables."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("NODE_") and name not in ("DATABASE_URL", "REDIS_URL")
    }
    env.update(environment)
    return subprocess.run(
        [sys.executable, "-m", "node", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_rejects_unknown_code() -> None:
    result = run_check({"NODE_CODE": "999999"})
    assert result.returncode != 0
    assert "999999" in result.stderr


def test_check_rejects_missing_parent(tmp_path: Path) -> None:
    result = run_check({"NODE_CODE": "350623", "NODE_DATA_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert "NODE_PARENT_URL" in result.stderr


def test_check_prints_identity(tmp_path: Path) -> None:
    result = run_check(
        {
            "NODE_CODE": "350623100",
            "NODE_PARENT_URL": "http://127.0.0.1:5001",
            "NODE_DATA_DIR": str(tmp_path),
        }
    )
    assert result.returncode == 0, result.stderr
    assert "350623100" in result.stdout
    assert "绥安镇" in result.stdout
    assert "parent 350623" in result.stdout
