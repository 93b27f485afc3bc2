from __future__ import annotations

from pathlib import Path

import pytest

from tce_cli.config import CONFIG_TEMPLATE, find_config, init_project, load_config, resolve
from tce_cli.errors import ConfigError
from tce_cli.findings import Severity


def test_defaults_without_a_file(tmp_path: Path) -> None:
    config = load_config(tmp_path)
    assert config.source is None
    assert config.store == tmp_path.resolve() / "tce-store"
    assert config.mappings == tmp_path.resolve() / "mappings"
    assert config.output == tmp_path.resolve() / "tce-output"
    assert config.templates is None and config.key_file is None
    assert config.thresholds.suppression == 5 and config.thresholds.completeness_default is None
    assert config.fail_on is Severity.ERROR


def test_walks_up_and_paths_are_relative_to_the_file(tmp_path: Path) -> None:
    (tmp_path / "tce.toml").write_text(
        'store = "data/store"\nkey_file = "/keys/tce.key"\nfail_on = "query"\n'
        "[thresholds]\nsuppression = 10\ncompleteness_default = 90\n"
    )
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    config = load_config(deep)
    assert config.source == (tmp_path / "tce.toml").resolve()
    assert config.store == tmp_path.resolve() / "data" / "store"
    assert config.key_file == Path("/keys/tce.key")
    assert config.mappings == tmp_path.resolve() / "mappings"
    assert config.fail_on is Severity.QUERY
    assert config.thresholds.suppression == 10
    assert config.thresholds.completeness_default == 90.0


def test_nearest_file_wins(tmp_path: Path) -> None:
    (tmp_path / "tce.toml").write_text('store = "outer"\n')
    inner = tmp_path / "inner"
    inner.mkdir()
    (inner / "tce.toml").write_text('store = "inner-store"\n')
    assert find_config(inner) == (inner / "tce.toml").resolve()
    assert load_config(inner).store == inner.resolve() / "inner-store"


def test_command_line_overrides_config(tmp_path: Path) -> None:
    (tmp_path / "tce.toml").write_text('store = "from-config"\n')
    config = load_config(tmp_path)
    assert resolve(Path("cli-store"), config.store) == Path("cli-store")
    assert resolve(None, config.store) == tmp_path.resolve() / "from-config"


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('stroe = "x"\n', "stroe"),
        ('fail_on = "warn"\n', "fail_on"),
        ("[thresholds]\nsuppression = -1\n", "thresholds.suppression"),
        ("[thresholds]\nbogus = 1\n", "thresholds.bogus"),
        ('source = "x"\n', "source"),
    ],
)
def test_errors_name_file_and_key(tmp_path: Path, text: str, key: str) -> None:
    (tmp_path / "tce.toml").write_text(text)
    with pytest.raises(ConfigError) as exc:
        load_config(tmp_path)
    assert "tce.toml" in exc.value.message and key in exc.value.message


def test_invalid_toml(tmp_path: Path) -> None:
    (tmp_path / "tce.toml").write_text("store = tce-store\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(tmp_path)


def test_init_template_loads_to_the_defaults(tmp_path: Path) -> None:
    (tmp_path / "tce.toml").write_text(CONFIG_TEMPLATE)
    config = load_config(tmp_path)
    assert config.model_dump(exclude={"source"}) == load_config(tmp_path / "..").model_dump(
        exclude={"source"}
    ) | {
        "store": tmp_path.resolve() / "tce-store",
        "mappings": tmp_path.resolve() / "mappings",
        "output": tmp_path.resolve() / "tce-output",
    }


def test_init_project_refuses_to_overwrite(tmp_path: Path) -> None:
    created = init_project(tmp_path / "proj")
    assert (tmp_path / "proj" / "tce-store").is_dir()
    assert tmp_path / "proj" / "tce.toml" in created
    (tmp_path / "proj" / "tce.toml").write_text("# mine\n")
    with pytest.raises(ConfigError, match="Not overwriting"):
        init_project(tmp_path / "proj")
    assert (tmp_path / "proj" / "tce.toml").read_text() == "# mine\n"
