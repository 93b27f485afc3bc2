"""A hand-made harmonised store for the report tests (written per docs/store-contract.md).

``write_store`` writes one Parquet partition per period and agency, the period manifests and
``.tce-store.json``; the derived flags are worked out here from the dates, as harmonise does.
The tests in this module check the builder itself.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from tce_cli.periods import Period, parse_period
from tce_cli.report.store_read import open_store, scan_rows, store_schema
from tce_cli.schema import load_schema

BOLTON, BURY, MANCHESTER = "E08000001", "E08000002", "E08000003"
AGENCY_TYPES = {"bolton-csc": "LA_CSC", "bury-csc": "LA_CSC", "gmp": "POLICE", "nhs": "HEALTH"}
AGENCY_NAMES = {
    "bolton-csc": "Bolton Children's Social Care",
    "bury-csc": "Bury Children's Social Care",
    "gmp": "Greater Manchester Police",
    "nhs": '=HYPERLINK("http://evil")',
}


def key(name: str) -> str:
    """A stable fake person key (64 hex)."""
    return hashlib.sha256(name.encode()).hexdigest()


@dataclass
class Rec:
    """One stored row: a child x agency x episode."""

    child: str
    agency: str
    start: date
    end: date | None = None
    la: str | None = BOLTON
    primary: str = "CCE"
    types: list[str] | None = None
    risk: str = "MEDIUM"
    risk_date: date | None = None
    referral: str = "6"
    age: int = 14
    sex: str = "M"
    ethnicity: str = "WBRI"
    csc: str = "CIN"
    closure: str | None = None
    missing: int = 0
    offered: int | None = None
    completed: int | None = None
    within_72h: int | None = None
    nrm: str = "NONE"
    nrm_date: date | None = None
    actions: list[str] = field(default_factory=list)
    education: str | None = None
    yj: str | None = None
    district: str | None = None


def _age_band(age: int) -> str:
    for band, low, high in (
        ("Under 10", 0, 9),
        ("10-12", 10, 12),
        ("13-15", 13, 15),
        ("16-17", 16, 17),
    ):
        if low <= age <= high:
            return band
    return "18+"


def _row(rec: Rec, period: Period, n: int) -> dict[str, Any]:
    schema = load_schema()
    end_ok = rec.end is None or rec.end > period.end
    return {
        "record_id": f"R{n}",
        "schema_version": "1.0",
        "reporting_period": period.label,
        "extract_date": period.end,
        "submitting_agency_type": AGENCY_TYPES[rec.agency],
        "submitting_org_code": "E08000001",
        "local_authority_code": rec.la,
        "person_key": key(rec.child),
        "person_key_basis": "NHS",
        "age_at_period_end": rec.age,
        "sex": rec.sex,
        "ethnicity": rec.ethnicity,
        "disability": "N",
        "home_postcode_district": rec.district,
        "csc_status": rec.csc,
        "exploitation_types": rec.types if rec.types is not None else [rec.primary],
        "primary_exploitation_type": rec.primary,
        "risk_level": rec.risk,
        "risk_assessment_date": rec.risk_date,
        "referral_source": rec.referral,
        "episode_start_date": rec.start,
        "episode_end_date": rec.end,
        "closure_reason": rec.closure,
        "missing_episodes_count": rec.missing,
        "rhi_offered_count": rec.offered,
        "rhi_completed_count": rec.completed,
        "rhi_within_72h_count": rec.within_72h,
        "nrm_referral_status": rec.nrm,
        "nrm_referral_date": rec.nrm_date,
        "disruption_actions": rec.actions,
        "education_status": rec.education,
        "youth_justice_involvement": rec.yj,
        "age_band": _age_band(rec.age),
        "ethnicity_major_group": schema.ethnicity_major_groups[rec.ethnicity],
        "la_dfe_code": schema.la_dfe_codes.get(rec.la or ""),
        "period_start": period.start,
        "period_end": period.end,
        "open_at_period_end": rec.start <= period.end and end_ok,
        "new_in_period": period.start <= rec.start <= period.end,
        "closed_in_period": rec.end is not None and period.start <= rec.end <= period.end,
        "cross_agency_known": False,
        "agency_id": rec.agency,
        "source_file": f"{rec.agency}.csv",
        "source_row": n + 1,
        "query_codes": [],
    }


def manifest_entry(agency: str, accepted: int, **extra: Any) -> dict[str, Any]:
    rejected = extra.pop("rejected", 0)
    entry = {
        "agency_name": AGENCY_NAMES[agency],
        "agency_type": AGENCY_TYPES[agency],
        "org_code": "E08000001",
        "mapping": f"{agency}.yaml",
        "mapping_sha256": "0" * 64,
        "submitted_at": "2026-11-25T10:15:00Z",
        "extract_date": extra.pop("extract_date", "2026-10-14"),
        "inputs": [
            {
                "file": f"{agency}.csv",
                "sha256": "1" * 64,
                "rows_read": accepted + rejected,
                "rows_accepted": accepted,
                "rows_rejected": rejected,
            }
        ],
        "rows_read": accepted + rejected,
        "rows_accepted": accepted,
        "rows_rejected": rejected,
        "findings_by_code": {},
        "findings_by_severity": {"error": rejected, "query": extra.pop("queries", 0), "info": 0},
        "completeness": extra.pop("completeness", {"sex": 100.0, "ethnicity": 90.0}),
        "validity": 100.0 * accepted / (accepted + rejected) if accepted + rejected else 0.0,
        "timeliness_days": 14,
    }
    entry.update(extra)
    return entry


def write_store(
    root: Path,
    periods: Mapping[str, Sequence[Rec]],
    *,
    manifests: Mapping[str, Mapping[str, dict[str, Any]]] | None = None,
    pseudonymised: bool = True,
) -> Path:
    """Write a store under ``root``; ``manifests`` default to one entry per agency with rows."""
    root.mkdir(parents=True, exist_ok=True)
    schema = store_schema()
    (root / ".tce-store.json").write_text(
        json.dumps(
            {"store_version": 1, "pseudonymised": pseudonymised, "key_fingerprint": "sha256:ab"}
        )
    )
    for label, recs in periods.items():
        period = parse_period(label)
        folder = root / f"period={period.slug}"
        rows = [_row(r, period, n) for n, r in enumerate(recs)]
        agencies = sorted({r.agency for r in recs})
        for agency in agencies:
            mine = [row for row in rows if row["agency_id"] == agency]
            frame = pl.DataFrame(mine, schema=schema)
            (folder / f"agency={agency}").mkdir(parents=True, exist_ok=True)
            frame.write_parquet(folder / f"agency={agency}" / "part-0.parquet")
        entries = (manifests or {}).get(label)
        if entries is None:
            entries = {a: manifest_entry(a, sum(r.agency == a for r in recs)) for a in agencies}
        folder.mkdir(parents=True, exist_ok=True)
        manifest = {
            "tool_version": "0.1.0",
            "schema_version": "1.0",
            "period": period.label,
            "period_start": period.start.isoformat(),
            "period_end": period.end.isoformat(),
            "generated_at": "2026-11-25T10:15:00Z",
            "pseudonymised": pseudonymised,
            "key_fingerprint": "sha256:ab",
            "agencies": entries,
        }
        (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return root


P2, P1, P4 = "2026-27 Q2", "2026-27 Q1", "2025-26 Q4"


def scenario(root: Path) -> Path:
    """Five children over three quarters, worked out by hand in test_report_measures.py.

    2026-27 Q2 (1 Jul - 30 Sep 2026):
      ann  Bolton CSC (open since May, CCE+CL, high risk assessed 1 Sep, looked after, 4 missing
           / 4 offered / 3 completed / 2 in 72h, NRM referred 10 Aug, arrest, AP, youth justice)
           and GMP (new 1 Aug, CSE, 2 missing, CAWN)                     -> known to 2 agencies
      ben  Bolton CSC, new 15 Jul, closed 20 Sep (risk reduced, 67 days), re-referral: an
           episode closed 10 Jun in Q1
      cat  GMP only, Bury, open since March, not assessed, 17, NEET, 3 missing / 2 / 2 / 2,
           RG positive (referred in February)
      dan  Health only, Manchester, new 1 Sep, gang, high risk assessed 15 Sep, 12, child
           protection plan, 1 missing / 1 / 0 / 0, NRM referral 5 Jul with CG positive
      eve  Bury CSC, open since Dec 2025, closed 10 Jul (stepped down, 221 days), looked after
    """
    # fmt: off
    q2 = [
        Rec("ann", "bolton-csc", date(2026, 5, 1), types=["CCE", "CL"], risk="HIGH",
            risk_date=date(2026, 9, 1), sex="F", csc="CLA", missing=4, offered=4, completed=3,
            within_72h=2, nrm="REFERRED_PENDING", nrm_date=date(2026, 8, 10), actions=["ARREST"],
            education="AP", yj="Y", district="BL1"),
        Rec("ann", "gmp", date(2026, 8, 1), primary="CSE", sex="F", csc="UNKNOWN", missing=2,
            offered=2, completed=2, within_72h=2, actions=["CAWN"], district="BL1"),
        Rec("ben", "bolton-csc", date(2026, 7, 15), date(2026, 9, 20), primary="CSE", risk="LOW",
            risk_date=date(2026, 5, 1), referral="2A", age=16, ethnicity="APKN",
            closure="RISK_REDUCED"),
        Rec("cat", "gmp", date(2026, 3, 1), la=BURY, risk="NOT_ASSESSED", age=17, sex="F",
            ethnicity="BCRB", csc="NONE", missing=3, offered=2, completed=2, within_72h=2,
            nrm="RG_POSITIVE", nrm_date=date(2026, 2, 1), education="NEET_16_17", yj="N",
            district="BL1"),
        Rec("dan", "nhs", date(2026, 9, 1), la=MANCHESTER, primary="GANG", risk="HIGH",
            risk_date=date(2026, 9, 15), referral="3E", age=12, csc="CPP", missing=1, offered=1,
            completed=0, within_72h=0, nrm="CG_POSITIVE", nrm_date=date(2026, 7, 5),
            district="M14"),
        Rec("eve", "bury-csc", date(2025, 12, 1), date(2026, 7, 10), la=BURY, primary="CSE",
            risk_date=date(2026, 6, 1), referral="5A", age=15, sex="F", ethnicity="MWBC",
            csc="CLA", closure="STEP_DOWN"),
    ]
    q1 = [
        Rec("ben", "bolton-csc", date(2026, 4, 5), date(2026, 6, 10), primary="CSE",
            closure="RISK_REDUCED", age=16),
        Rec("cat", "gmp", date(2026, 3, 1), la=BURY, age=17, sex="F"),
        Rec("eve", "bury-csc", date(2025, 12, 1), la=BURY, primary="CSE", age=15, sex="F"),
    ]
    # fmt: on
    q4 = [Rec("eve", "bury-csc", date(2025, 12, 1), la=BURY, primary="CSE", age=15, sex="F")]
    manifests = {
        P4: {"bury-csc": manifest_entry("bury-csc", 1, extract_date="2026-04-20")},
        P1: {
            a: manifest_entry(a, 1, extract_date="2026-07-10")
            for a in ("bolton-csc", "bury-csc", "gmp")
        },
        P2: {
            "bolton-csc": manifest_entry("bolton-csc", 2, rejected=1, extract_date="2026-10-14"),
            "bury-csc": manifest_entry("bury-csc", 1, extract_date="2026-11-20"),
            "gmp": manifest_entry("gmp", 2, extract_date="2026-10-14", queries=7),
            "nhs": manifest_entry("nhs", 1, extract_date="2026-10-14"),
        },
    }
    return write_store(root, {P4: q4, P1: q1, P2: q2}, manifests=manifests)


LAS = (
    BOLTON,
    BURY,
    MANCHESTER,
    "E08000004",
    "E08000005",
    "E08000006",
    "E08000007",
    "E08000008",
    "E08000009",
    "E08000010",
    "OUT_OF_GM",
)


def generated(root: Path, n: int = 240, seed: int = 7) -> Path:
    """A bigger seeded store (two quarters) with a mix of small and large counts."""
    rnd = random.Random(seed)
    periods: dict[str, list[Rec]] = {}
    for label, first in ((P1, date(2026, 4, 1)), (P2, date(2026, 7, 1))):
        last_month = first.month + 2
        recs = []
        for i in range(n):
            start = date(2026, rnd.randint(1, last_month), rnd.randint(1, 28))
            end = (
                None if rnd.random() < 0.6 else date(2026, rnd.randint(first.month, last_month), 28)
            )
            if end is not None and end < start:
                end = None
            missing = rnd.choice([0, 0, 0, 1, 2, 3, 5])
            offered = rnd.randint(0, missing)
            completed = rnd.randint(0, offered)
            # fmt: off
            recs.append(Rec(
                f"g{i}", rnd.choice(["bolton-csc", "gmp", "nhs", "bury-csc"]), start, end,
                la=rnd.choice(LAS), primary=rnd.choice(["CSE", "CCE", "CL", "GANG"]),
                risk=rnd.choice(["HIGH", "MEDIUM", "LOW", "NOT_ASSESSED"]),
                risk_date=date(2026, rnd.randint(1, last_month), 1),
                referral=rnd.choice(["6", "2A", "3E", "5A", "1A"]), age=rnd.randint(8, 19),
                sex=rnd.choice("MFU"), ethnicity=rnd.choice(["WBRI", "APKN", "BCRB", "MWBC"]),
                csc=rnd.choice(["CLA", "CIN", "CPP", "NONE", "CARE_LEAVER"]),
                closure=rnd.choice(["RISK_REDUCED", "STEP_DOWN"]) if end else None,
                missing=missing, offered=offered, completed=completed,
                within_72h=rnd.randint(0, completed),
                nrm=rnd.choice(["NONE", "NONE", "REFERRED_PENDING", "RG_POSITIVE", "CG_NEGATIVE"]),
                nrm_date=date(2026, rnd.randint(1, last_month), 3),
                actions=rnd.sample(["ARREST", "CAWN", "CHARGE"], rnd.randint(0, 2)),
                education=rnd.choice(["AP", "MAINSTREAM", "NEET_16_17", None]),
                yj=rnd.choice("YNU"), district=rnd.choice(["M1", "M14", "BL1", "OL9", "SK1"]),
            ))
            # fmt: on
        periods[label] = recs
    return write_store(root, periods)


def test_builder_writes_a_store_the_report_can_read(tmp_path: Path) -> None:
    recs = [Rec("a", "bolton-csc", date(2026, 5, 1)), Rec("a", "gmp", date(2026, 8, 1))]
    store = open_store(write_store(tmp_path / "s", {"2026-27 Q2": recs}))
    assert [p.label for p in store.periods] == ["2026-27 Q2"]
    frame = scan_rows(store, store.periods).collect()
    assert frame.height == 2
    assert sorted(frame.get_column("agency").to_list()) == ["bolton-csc", "gmp"]
    assert frame.get_column("agency_id").to_list() == frame.get_column("agency").to_list()
    assert frame.get_column("new_in_period").to_list() == [False, True]
