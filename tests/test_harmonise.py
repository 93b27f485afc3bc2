"""`tce harmonise`: pseudonymised store, rejected rows, invariants and failure modes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from tce_cli.cli import app

FIX = Path(__file__).parent / "fixtures" / "validate"
CSV = FIX / "mini_2026-27Q2.csv"
KEY_A = "11" * 32
KEY_B = "22" * 32
PERSONAL = ("Alice Example", "9434765919", "01/02/2012", "M14 5RX", "M145RX", "notes here")


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """A working folder with two agencies' mappings and files sharing one NHS number."""
    maps = tmp_path / "mappings"
    maps.mkdir()
    text = (FIX / "mini.yaml").read_text()
    (maps / "mini.yaml").write_text(text)
    police = text.replace("id: mini-csc", "id: mini-police").replace("LA_CSC", "POLICE")
    police = police.replace('match: "mini_*.csv"', 'match: "police_*.csv"')
    (maps / "police.yaml").write_text(police)
    data = tmp_path / "data"
    data.mkdir()
    (data / "mini_q2.csv").write_bytes(CSV.read_bytes())
    lines = CSV.read_text().splitlines()
    (data / "police_q2.csv").write_text("\n".join([lines[0], lines[1]]) + "\n")
    (tmp_path / "a.key").write_text(KEY_A)
    (tmp_path / "b.key").write_text(KEY_B)
    return tmp_path


def _run(work: Path, *extra: str, key: str = "a.key", store: str = "store") -> object:
    args = [
        "harmonise",
        str(work / "data"),
        "--period",
        "2026-27 Q2",
        "--mappings",
        str(work / "mappings"),
        "--store",
        str(work / store),
        "--key-file",
        str(work / key),
        "--generated-at",
        "2026-11-25T09:00:00+00:00",
        *extra,
    ]
    return CliRunner().invoke(app, args)


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


def test_every_row_accounted_for_and_store_written(work: Path) -> None:
    res = _run(work, "--format", "json")
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    for f in summary["files"]:
        assert f["rows_read"] == f["rows_accepted"] + f["rows_rejected"]
    mini = next(f for f in summary["files"] if f["agency"] == "mini-csc")
    assert (mini["rows_read"], mini["rows_accepted"], mini["rows_rejected"]) == (20, 5, 15)
    part = pl.read_parquet(work / "store/period=2026-27Q2/agency=mini-csc/part-0.parquet")
    assert part.height == 5
    rejected = pl.read_csv(
        work / "store/rejected/period=2026-27Q2/mini-csc.csv", infer_schema=False
    )
    assert rejected.height == 15 and rejected["record_id"][0] == "R2"
    manifest = json.loads((work / "store/period=2026-27Q2/manifest.json").read_text())
    assert manifest["agencies"]["mini-csc"]["rows_rejected"] == 15
    assert manifest["key_fingerprint"].startswith("sha256:")


def test_rerun_replaces_and_is_byte_identical(work: Path) -> None:
    assert _run(work).exit_code == 0
    before = _digest(work / "store")
    assert _run(work).exit_code == 0
    after = _digest(work / "store")
    history = [k for k in after if "/manifests/" in k]
    assert len(history) == 2 * len([k for k in before if "/manifests/" in k])
    assert {k: v for k, v in after.items() if "/manifests/" not in k} == {
        k: v for k, v in before.items() if "/manifests/" not in k
    }
    total = pl.scan_parquet(work / "store/period=*/agency=*/*.parquet").select(pl.len())
    assert total.collect().item() == 6


def test_same_nhs_number_same_key_across_agencies(work: Path) -> None:
    assert _run(work).exit_code == 0
    store = pl.read_parquet(work / "store/period=2026-27Q2/agency=*/*.parquet")
    nhs = store.filter(pl.col("person_key_basis") == "NHS")
    assert nhs["agency_id"].n_unique() == 2 and nhs["person_key"].n_unique() == 1
    assert nhs["cross_agency_known"].all()
    assert _run(work, key="b.key", store="store_b").exit_code == 0
    other = pl.read_parquet(work / "store_b/period=2026-27Q2/agency=*/*.parquet")
    assert set(other["person_key"]).isdisjoint(set(store["person_key"]))


def test_no_personal_data_in_any_output(work: Path) -> None:
    assert _run(work).exit_code == 0
    for path in (work / "store").rglob("*"):
        if path.is_file():
            blob = path.read_bytes()
            if path.suffix == ".parquet":
                frame = pl.read_parquet(path)
                blob = str(frame.to_dicts()).encode()
            for secret in PERSONAL:
                assert secret.encode() not in blob, (secret, path)


def test_failure_mid_write_leaves_store_as_it_was(
    work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _run(work).exit_code == 0
    before = _digest(work / "store")
    import tce_cli.store as store_mod

    def boom(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store_mod, "_write_parquet", boom)
    res = _run(work, "--generated-at", "2026-11-26T09:00:00+00:00")
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert _digest(work / "store") == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--period", "2026 Q2"], "is not a quarter label"),
        (["--key-file", "missing.key"], "does not exist"),
    ],
)
def test_exit_2_with_one_line(work: Path, args: list[str], message: str) -> None:
    base = [
        "harmonise",
        str(work / "data"),
        "--mappings",
        str(work / "mappings"),
        "--store",
        str(work / "store"),
    ]
    defaults = {"--period": "2026-27 Q2", "--key-file": str(work / "a.key")}
    for flag, value in zip(args[::2], args[1::2], strict=True):
        defaults[flag] = value if flag != "--key-file" else str(work / value)
    res = CliRunner().invoke(app, base + [x for kv in defaults.items() for x in kv])
    assert res.exit_code == 2
    assert message in res.stderr and "Traceback" not in res.output


def test_no_key_and_unmatched_file_exit_2(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TCE_KEY", raising=False)
    monkeypatch.chdir(work)
    base = ["harmonise", "data", "--period", "2026-27 Q2", "--mappings", "mappings"]
    res = CliRunner().invoke(app, base)
    assert res.exit_code == 2 and "tce keygen" in res.stderr
    (work / "data" / "stray.csv").write_text("a,b\n1,2\n")
    res = CliRunner().invoke(app, [*base, "--key-file", "a.key"])
    assert res.exit_code == 2 and "No mapping matches 'stray.csv'" in res.stderr


def test_no_pseudonymise_marks_the_store(work: Path) -> None:
    res = _run(work, "--no-pseudonymise", store="test_store")
    assert res.exit_code == 0 and "NOT PSEUDONYMISED" in res.stdout
    marker = json.loads((work / "test_store/.tce-store.json").read_text())
    assert marker["pseudonymised"] is False
    assert _run(work, store="test_store").exit_code == 2  # cannot mix keyed runs into it


def test_agency_side_pseudonymised_export_loads_into_region_store(work: Path) -> None:
    assert _run(work, store="agency_store").exit_code == 0
    export = work / "mini.parquet"
    res = CliRunner().invoke(
        app,
        [
            "export",
            "--period",
            "2026-27 Q2",
            "--store",
            str(work / "agency_store"),
            "--format",
            "parquet",
            "--out",
            str(export),
        ],
    )
    assert res.exit_code == 0, res.output
    region = [
        "harmonise",
        str(export),
        "--from-pseudonymised",
        "--period",
        "2026-27 Q2",
        "--store",
        str(work / "region"),
    ]
    assert CliRunner().invoke(app, [*region, "--key-file", str(work / "b.key")]).exit_code == 2
    res = CliRunner().invoke(app, [*region, "--key-file", str(work / "a.key")])
    assert res.exit_code == 0, res.output
    loaded = pl.read_parquet(work / "region/period=2026-27Q2/agency=*/*.parquet")
    original = pl.read_parquet(work / "agency_store/period=2026-27Q2/agency=*/*.parquet")
    assert sorted(loaded["person_key"]) == sorted(original["person_key"])
    res = CliRunner().invoke(
        app, [*region[:-4], "--period", "2026-27 Q1", "--store", str(work / "region")]
    )
    assert res.exit_code == 2 and "2026-27 Q2" in res.stderr
