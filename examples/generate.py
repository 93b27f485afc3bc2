"""Generate the synthetic agency exports in examples/data/ and examples/expected_findings.json.

Six Greater Manchester agencies, four consecutive quarters (2025-26 Q3 to 2026-27 Q2), each in
its own layout (Liquidlogic CSV, Mosaic Windows-1252 CSV, Eclipse XLSX with title rows, a police
CSV with Y/N flag columns, an NHS tab-delimited tracker with a BOM, a hand-kept VCS workbook).

A population of children persists across quarters: episodes open, stay open and close, new
referrals arrive, and many children are known to two or more agencies under the same NHS number.
Every NHS number is from the 999 test range (never issued to a real person) and passes Modulus 11.
Names, addresses and notes are invented.

Each file has realistic defects planted at realistic rates. An oracle in this script applies the
rules tce applies (src/tce_cli/checks) to the generated values and writes the exact number of
findings per code for every file to examples/expected_findings.json.

Deterministic: the same seed gives byte-identical CSV files and identical XLSX cell values.

Usage: .venv/bin/python examples/generate.py [--out examples/data] [--seed 20260930]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
import re
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "data"
EXPECTED = HERE / "expected_findings.json"
SEED = 20260930
FIXED_TIME = datetime(2026, 11, 1, 9, 0, 0)

# --------------------------------------------------------------------------- periods


@dataclass(frozen=True)
class Quarter:
    """One reporting quarter of the financial year."""

    slug: str
    start: date
    end: date


QUARTERS = (
    Quarter("2025-26Q3", date(2025, 10, 1), date(2025, 12, 31)),
    Quarter("2025-26Q4", date(2026, 1, 1), date(2026, 3, 31)),
    Quarter("2026-27Q1", date(2026, 4, 1), date(2026, 6, 30)),
    Quarter("2026-27Q2", date(2026, 7, 1), date(2026, 9, 30)),
)
SIM_START = date(2024, 4, 1)
HORIZON = date(2026, 12, 31)


def add_working_days(start: date, days: int) -> date:
    """The date ``days`` working days (Mon-Fri) after ``start``."""
    current, left = start, days
    while left > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            left -= 1
    return current


def age_at(dob: date, at: date) -> int:
    """Whole years from ``dob`` to ``at``."""
    return at.year - dob.year - ((at.month, at.day) < (dob.month, dob.day))


def birthday(dob: date, years: int) -> date:
    """The ``years``-th birthday (29 February falls on 1 March)."""
    try:
        return dob.replace(year=dob.year + years)
    except ValueError:
        return date(dob.year + years, 3, 1)


def _words(text: str, sep: str | None = None) -> list[str]:
    """Split a block of words (or ``sep``-separated phrases) written over several lines."""
    if sep is None:
        return text.split()
    return [" ".join(part.split()) for part in text.split(sep)]


# --------------------------------------------------------------------------- code lists
# Tables are laid out by hand for reading; the formatter leaves them alone.
# fmt: off

LA = {
    "E08000001": "Bolton",
    "E08000002": "Bury",
    "E08000003": "Manchester",
    "E08000004": "Oldham",
    "E08000005": "Rochdale",
    "E08000006": "Salford",
    "E08000007": "Stockport",
    "E08000008": "Tameside",
    "E08000009": "Trafford",
    "E08000010": "Wigan",
}
LA_DFE = {code: str(350 + i) for i, code in enumerate(LA)} | {"OUT_OF_GM": "888"}
LA_WEIGHTS = {
    "E08000001": 11,
    "E08000002": 7,
    "E08000003": 20,
    "E08000004": 9,
    "E08000005": 8,
    "E08000006": 10,
    "E08000007": 10,
    "E08000008": 8,
    "E08000009": 7,
    "E08000010": 12,
}
POSTCODE_DISTRICTS = {
    "E08000001": ["BL1", "BL2", "BL3", "BL4", "BL5", "BL6", "BL7"],
    "E08000002": ["BL0", "BL8", "BL9", "M25", "M26", "M45"],
    "E08000003": ["M1", "M4", "M8", "M9", "M11", "M12", "M13", "M14", "M15", "M16", "M18",
                  "M19", "M20", "M21", "M22", "M23", "M40"],
    "E08000004": ["OL1", "OL2", "OL4", "OL8", "OL9", "M35"],
    "E08000005": ["OL10", "OL11", "OL12", "OL16", "M24"],
    "E08000006": ["M3", "M5", "M6", "M7", "M27", "M28", "M30", "M44"],
    "E08000007": ["SK1", "SK2", "SK3", "SK4", "SK5", "SK6", "SK7", "SK8"],
    "E08000008": ["OL5", "OL6", "OL7", "SK14", "SK15", "SK16", "M34", "M43"],
    "E08000009": ["M16", "M17", "M31", "M32", "M33", "M41", "WA14", "WA15"],
    "E08000010": ["WN1", "WN2", "WN3", "WN4", "WN5", "WN6", "WN7", "M46"],
    "OUT_OF_GM": ["PR1", "PR7", "BB1", "BB4", "WA1", "WA5", "CH1", "L4", "L9", "CW1"],
}
INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
UPN_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"
ETHNICITY_WEIGHTS = {
    "WBRI": 560, "WIRI": 6, "WIRT": 5, "WOTH": 40, "WROM": 10, "MWBC": 45, "MWBA": 15,
    "MWAS": 15, "MOTH": 20, "AIND": 20, "APKN": 90, "ABAN": 20, "AOTH": 15, "BCRB": 20,
    "BAFR": 50, "BOTH": 15, "CHNE": 8, "OOTH": 20, "NOBT": 10, "REFU": 5,
}
TYPE_SETS: list[tuple[tuple[str, ...], int]] = [
    (("CSE",), 30), (("CCE",), 22), (("CCE", "CL"), 14), (("CSE", "CCE"), 7),
    (("CCE", "GANG"), 7), (("MSHT", "CCE"), 4), (("CSE", "MSHT"), 2), (("GANG",), 4),
    (("CCE", "CL", "MSHT"), 3), (("FIN",), 1), (("OTHER_EFH",), 2), (("CSE", "OTHER_EFH"), 3),
    (("CL", "CCE"), 1),
]
CLOSURE_WEIGHTS = {
    "RISK_REDUCED": 45, "STEP_DOWN": 20, "TRANSFER_OTHER_LA": 7, "DISENGAGED": 12,
    "CUSTODY": 4, "OTHER": 12,
}
CSC_WEIGHTS = {"CIN": 32, "CPP": 14, "CLA": 22, "EARLY_HELP": 17, "NONE": 15}

BOYS = _words("""Oliver Harry Jack Charlie Thomas Jacob Alfie Riley William James Mohammed Muhammad
Ibrahim Yusuf Ayaan Adam Kai Tyler Kyle Callum Jayden Reece Connor Liam Noah Leo Mason Ethan
Dylan Kacper Jakub Oskar Kofi Tunde Emmanuel Daniel Josh Lewis Bradley Ryan Ali Hamza Zain
Aaron Malik Luca Ahmed Omar Bilal Declan Kian Lucas Aiden""")
GIRLS = _words("""Olivia Amelia Isla Ava Mia Ella Grace Lily Sophie Chloe Jessica Holly Megan Paige
Courtney Jade Leah Ellie Freya Maisie Aisha Fatima Maryam Zara Hafsa Amira Zainab Ayesha Inaya
Precious Blessing Chantelle Shanice Tia Kayla Demi Skye Lacey Nicole Zuzanna Maja Oliwia Esme
Poppy Ruby Evie Summer Keira Niamh Aaliyah""")
SURNAMES = _words("""Smith Jones Taylor Brown Williams Wilson Johnson Davies Robinson Wright
Thompson Evans Walker White Roberts Green Hall Wood Jackson Clarke Khan Hussain Ahmed Ali Begum Shah
Patel Iqbal Akhtar Mahmood Okafor Mensah Adeyemi Campbell Francis Grant Kowalski Nowak Murphy
Kelly O'Brien McDonald Hughes Lees Ashworth Holt Whittaker Hargreaves Schofield Butterworth
Greenhalgh Ogden Kaur Singh Nguyen Chen Mohamed Abdi Yilmaz Popescu Rossi Fletcher Bennett
Kirkham Heywood Dawson Barlow""")
STREETS = _words("""Chorley New Road|Deane Road|Halliwell Road|Moss Lane East|Princess Road|Cheetham
Hill Road|Wigan Lane|Ormskirk Road|Manchester Road|Oldham Road|Market Street|Church Street|
Victoria Road|Park Avenue|Queens Road|Bury New Road|Stockport Road|Hyde Road|Liverpool Road|
Ashton Old Road|Rochdale Road|Bolton Road|Station Road|Mill Lane|Greenfield Close|Hawthorn
Avenue|Elm Grove|Alder Street|Brook Street|Clarence Street""", "|")
WORKERS = ["Karen Lees", "Mark Ashworth", "Priya Sharma", "Tom Haworth", "Gemma Fairclough",
           "Dan Whitworth", "Sadia Rahman", "Lisa Thornley", "Chris Dunne", "Hannah Pilling"]
WORKERS_ACCENTED = ["Chloé Martin", "Zoë Fletcher", "José Álvarez", "Björn Andersson",
                    "Renée Okoro", "Søren Holt", "Siân Evans", "Sinéad Walsh", "Jürgen Weber",
                    "Ana Muñoz", "François Petit", "Noël Byrne", "Anaïs Dubois", "Karen Lees",
                    "Mark Ashworth", "Priya Sharma"]
NOTES = ["Seen at home, engaging well", "Missing overnight; found in Rochdale",
         "Concerns re older males in a car", "Linked to a county line into Cumbria",
         "Disclosed online grooming", "Strategy meeting held", "Attends PRU, sporadic",
         "Found with cash and two phones", "Mum reports new clothes and trainers",
         "School raised concerns about attendance", "Return interview declined",
         "NRM submitted by police", "Safety plan reviewed", "Disruption plan in place",
         "Engaging with youth worker", "Moved placement", "Reduced missing this month", ""]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
# fmt: on


def weighted(rng: random.Random, weights: dict[str, int] | dict[str, float]) -> str:
    """A key of ``weights`` chosen with probability proportional to its weight."""
    keys = list(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys], k=1)[0]


def stable_pick(options: Sequence[str], *key: object) -> str:
    """Pick from ``options`` by a stable hash of ``key`` (independent of call order)."""
    return options[zlib.crc32("|".join(map(str, key)).encode()) % len(options)]


# --------------------------------------------------------------------------- identifiers


def nhs_check_digit(first9: str) -> int | None:
    """Modulus 11 check digit of the first nine digits (None when it would be 10)."""
    total = sum(int(d) * w for d, w in zip(first9, range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        return 0
    return None if check == 10 else check


def nhs_valid(text: str) -> bool:
    """True for 10 digits (spaces and hyphens ignored) that pass Modulus 11."""
    digits = re.sub(r"[\s-]", "", text)
    if not re.fullmatch(r"\d{10}", digits):
        return False
    return nhs_check_digit(digits[:9]) == int(digits[9])


def new_nhs(rng: random.Random, used: set[str]) -> str:
    """A fresh NHS number from the 999 test range that passes Modulus 11."""
    while True:
        body = f"999{rng.randrange(10**6):06d}"
        check = nhs_check_digit(body)
        number = f"{body}{check}"
        if check is not None and number not in used:
            used.add(number)
            return number


def upn_check_letter(rest: str) -> str:
    """Check letter of a UPN from its characters 2-13 (digits only here)."""
    total = sum(int(c) * w for c, w in zip(rest, range(2, 14), strict=True))
    return UPN_LETTERS[total % 23]


def new_upn(rng: random.Random, la: str) -> str:
    rest = f"{LA_DFE[la]}{rng.randrange(10**8):08d}{rng.randrange(10)}"
    return upn_check_letter(rest) + rest


def upn_valid(upn: str) -> bool:
    u = upn.replace(" ", "").upper()
    if not re.fullmatch(r"[A-HJ-NP-RT-Z][0-9]{12}", u):
        return False
    return upn_check_letter(u[1:]) == u[0]


POSTCODE_RX = re.compile(r"^([A-Z][A-HJ-Y]?[0-9][A-Z0-9]?[0-9][A-Z]{2}|GIR0AA)$")
RECORD_ID_RX = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
LA_CHILD_ID_RX = re.compile(r"^[A-Za-z0-9]{1,20}$")


def new_postcode(rng: random.Random, la: str) -> str:
    district = rng.choice(POSTCODE_DISTRICTS[la])
    unit = rng.choice(INWARD_LETTERS) + rng.choice(INWARD_LETTERS)
    return f"{district} {rng.randrange(10)}{unit}"


def postcode_valid(text: str) -> bool:
    return bool(POSTCODE_RX.match(text.upper().replace(" ", "")))


# --------------------------------------------------------------------------- population


@dataclass
class Child:
    """One (invented) child and the facts every agency would record about them."""

    idx: int
    nhs: str
    upn: str
    forename: str
    surname: str
    sex: str
    dob: date
    ethnicity: str
    la: str
    postcode: str
    address: str
    csc: list[str]
    missing: list[tuple[int, int, int, int]]
    education: list[str]
    disability: str
    youth_justice: str


@dataclass
class Episode:
    """One episode of one child with one agency."""

    agency: str
    record_id: str
    child: Child
    start: date
    end: date
    closure: str
    referral: str
    types: tuple[str, ...]
    assessments: list[tuple[date, str]]
    nrm: list[tuple[date, str]]
    disruption: list[list[str]]


class Population:
    """Children and their episodes with all six agencies, simulated from April 2024."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.children: list[Child] = []
        self.episodes: dict[str, list[Episode]] = {}
        self.by_child: dict[tuple[str, int], list[Episode]] = {}
        self._nhs: set[str] = set()
        self.ids: Counter[str] = Counter()

    def new_child(self, la: str, start: date, age: int | None = None) -> Child:
        rng = self.rng
        if age is None:
            age = rng.choices(
                [8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18],
                weights=[1, 2, 4, 6, 9, 12, 15, 16, 13, 6, 0.4],
            )[0]
        dob = start - timedelta(days=365 * age + rng.randrange(365))
        sex = rng.choices(["M", "F", "U"], weights=[56, 43.8, 0.2])[0]
        forename = rng.choice(BOYS if sex == "M" else GIRLS if sex == "F" else BOYS + GIRLS)
        csc = [weighted(rng, CSC_WEIGHTS)]
        for _ in QUARTERS[1:]:
            csc.append(csc[-1] if rng.random() < 0.85 else weighted(rng, CSC_WEIGHTS))
        child = Child(
            idx=len(self.children),
            nhs=new_nhs(rng, self._nhs),
            upn=new_upn(rng, la),
            forename=forename,
            surname=rng.choice(SURNAMES),
            sex=sex,
            dob=dob,
            ethnicity=weighted(rng, ETHNICITY_WEIGHTS),
            la=la,
            postcode=new_postcode(rng, la),
            address=f"{rng.randrange(1, 240)} {rng.choice(STREETS)}",
            csc=csc,
            missing=[self._missing(rng) for _ in QUARTERS],
            education=[self._education(rng, age_at(dob, q.end)) for q in QUARTERS],
            disability=rng.choices(["Y", "N", "U"], weights=[20, 70, 10])[0],
            youth_justice=rng.choices(["Y", "N"], weights=[22, 78])[0],
        )
        self.children.append(child)
        return child

    @staticmethod
    def _missing(rng: random.Random) -> tuple[int, int, int, int]:
        m = rng.choices([0, 1, 2, 3, 4, 5, 6, 8, 11], weights=[62, 14, 8, 5, 4, 3, 2, 1, 1])[0]
        o = m - (rng.random() < 0.15 and m > 0)
        c = max(0, o - sum(rng.random() < 0.25 for _ in range(o)))
        w = max(0, c - sum(rng.random() < 0.35 for _ in range(c)))
        return m, o, c, w

    @staticmethod
    def _education(rng: random.Random, age: int) -> str:
        if age >= 16:
            return rng.choices(["EET_16_17", "NEET_16_17", "UNKNOWN"], weights=[55, 38, 7])[0]
        return rng.choices(
            ["MAINSTREAM", "AP", "SPECIAL", "EHE", "CME", "UNKNOWN"],
            weights=[58, 17, 7, 3, 6, 9],
        )[0]

    def add_episode(
        self,
        agency: str,
        child: Child,
        start: date,
        id_format: Callable[[int], Any],
        referral: str,
    ) -> Episode | None:
        """A new episode, unless it would overlap the child's other episodes at ``agency``."""
        rng = self.rng
        if not SIM_START <= start <= QUARTERS[-1].end:
            return None
        end = start + timedelta(
            days=rng.choice([rng.randint(30, 120), rng.randint(120, 300), rng.randint(300, 560)])
        )
        closure = weighted(rng, CLOSURE_WEIGHTS)
        adult = birthday(child.dob, 18)
        if start < adult <= end and rng.random() < 0.88:
            end, closure = adult + timedelta(days=rng.randint(0, 40)), "TRANSITION_ADULT"
        end = min(end, birthday(child.dob, 20) - timedelta(days=rng.randint(1, 60)))
        if end <= start + timedelta(days=14):
            return None
        mine = self.by_child.setdefault((agency, child.idx), [])
        if any(start <= e.end + timedelta(days=20) and e.start <= end for e in mine):
            return None
        types = rng.choices([t for t, _ in TYPE_SETS], weights=[w for _, w in TYPE_SETS])[0]
        self.ids[agency] += 1
        ep = Episode(
            agency=agency,
            record_id=id_format(self.ids[agency]),
            child=child,
            start=start,
            end=end,
            closure=closure,
            referral=referral,
            types=types,
            assessments=self._assessments(rng, start, end),
            nrm=self._nrm(rng, start, end, types),
            disruption=[self._disruption(rng, types) for _ in QUARTERS],
        )
        mine.append(ep)
        self.episodes.setdefault(agency, []).append(ep)
        return ep

    @staticmethod
    def _assessments(rng: random.Random, start: date, end: date) -> list[tuple[date, str]]:
        out: list[tuple[date, str]] = []
        t = start + timedelta(days=rng.randint(3, 24))
        level = rng.choices(["HIGH", "MEDIUM", "LOW"], weights=[27, 45, 28])[0]
        ladder = ["LOW", "MEDIUM", "HIGH"]
        while t <= min(end, HORIZON):
            out.append((t, level))
            t += timedelta(days=rng.randint(50, 120))
            step = rng.choices([-1, 0, 1], weights=[35, 50, 15])[0]
            level = ladder[min(2, max(0, ladder.index(level) + step))]
        return out

    @staticmethod
    def _nrm(
        rng: random.Random, start: date, end: date, types: tuple[str, ...]
    ) -> list[tuple[date, str]]:
        p = 0.6 if "MSHT" in types else 0.3 if "CL" in types else 0.12 if "CCE" in types else 0.05
        if rng.random() >= p:
            return []
        referred = start + timedelta(days=rng.randint(7, 150))
        if referred >= end:
            return []
        out = [(referred, "REFERRED_PENDING")]
        if rng.random() < 0.05:
            return [*out, (referred + timedelta(days=rng.randint(10, 60)), "WITHDRAWN")]
        rg = referred + timedelta(days=rng.randint(3, 45))
        positive = rng.random() < 0.85
        out.append((rg, "RG_POSITIVE" if positive else "RG_NEGATIVE"))
        if positive:
            cg = rg + timedelta(days=rng.randint(150, 420))
            out.append((cg, "CG_POSITIVE" if rng.random() < 0.85 else "CG_NEGATIVE"))
        return out

    @staticmethod
    def _disruption(rng: random.Random, types: tuple[str, ...]) -> list[str]:
        p = 0.35 if ("CCE" in types or "CL" in types) else 0.2
        if rng.random() >= p:
            return []
        actions = [
            "CAWN",
            "ARREST",
            "CHARGE",
            "LINE_CLOSURE",
            "CLOSURE_ORDER",
            "SRO",
            "CIVIL_INJUNCTION",
            "SHPO",
            "STPO_STRO",
        ]
        weights = [30, 25, 12, 8, 5, 4, 6, 4, 2]
        picked = rng.choices(actions, weights=weights, k=rng.choice([1, 1, 1, 2]))
        return sorted(dict.fromkeys(picked))


# --------------------------------------------------------------------------- values and rows


@dataclass(frozen=True)
class Bad:
    """A source value tce cannot use: ``kind`` is the finding it raises, ``raw`` the cell."""

    kind: str
    raw: Any
    default: str | None = None


@dataclass
class Row:
    """One output row: framework values (as tce should read them) plus agency-only columns."""

    values: dict[str, Any]
    child: Child
    episode: Episode
    extras: dict[str, Any] = field(default_factory=dict)
    planted: set[str] = field(default_factory=set)
    defect: str = ""

    def copy(self) -> Row:
        return Row(dict(self.values), self.child, self.episode, dict(self.extras), set(), "")


def usable(value: Any) -> Any:
    """The value tce ends up with: Bad values are unreadable, except defaulted codes."""
    if isinstance(value, Bad):
        return value.default if value.kind == "defaulted-code" else None
    return value


REQUIRED = (
    "record_id",
    "date_of_birth",
    "extract_date",
    "local_authority_code",
    "sex",
    "ethnicity",
    "csc_status",
    "exploitation_types",
    "primary_exploitation_type",
    "risk_level",
    "referral_source",
    "episode_start_date",
    "missing_episodes_count",
    "nrm_referral_status",
)
IDENTIFIERS = ("nhs_number", "upn", "la_child_id", "agency_person_id")
RHI = ("rhi_offered_count", "rhi_completed_count", "rhi_within_72h_count")
EVENT_DATES = (
    "episode_start_date",
    "episode_end_date",
    "risk_assessment_date",
    "nrm_referral_date",
)
COMPLETENESS = {
    "record_id": 100,
    "extract_date": 100,
    "local_authority_code": 98,
    "sex": 98,
    "ethnicity": 95,
    "disability": 50,
    "csc_status": 95,
    "exploitation_types": 98,
    "primary_exploitation_type": 98,
    "risk_level": 95,
    "referral_source": 90,
    "episode_start_date": 100,
    "missing_episodes_count": 95,
    "nrm_referral_status": 90,
    "education_status": 50,
    "youth_justice_involvement": 50,
}


# --------------------------------------------------------------------------- agencies

Label = str | tuple[str, ...]
CellFn = Callable[[date, "Row", str], Any]


@dataclass
class Known:
    """How one agency has recorded one child (stable across quarters)."""

    local_id: Any
    nhs: str | None
    upn: str | None
    sex: str
    ethnicity: str
    postcode: str | None
    csc_known: bool
    pnc: str


@dataclass
class Agency:
    """One agency export layout and how it records children."""

    id: str
    file_stem: str
    ext: str
    fields: tuple[str, ...]
    constants: tuple[str, ...]
    columns: list[tuple[str, str]]
    labels: dict[str, dict[str, Label]]
    seps: dict[str, str]
    date_cell: CellFn
    record_id: Callable[[int], Any]
    local_id: Callable[[int], Any]
    referral_weights: dict[str, int]
    rate: float
    la_weights: dict[str, int]
    link_from: list[tuple[str, float, tuple[str, ...]]]
    bad: dict[str, list[Any]]
    menu: list[str]
    p: dict[str, float]
    express: Callable[[tuple[str, ...]], tuple[str, ...]] = lambda t: t
    ethnicity_norm: dict[str, str] = field(default_factory=dict)
    int_labels: dict[int, str] = field(default_factory=dict)
    known: dict[int, Known] = field(default_factory=dict)

    def file_name(self, slug: str) -> str:
        return f"{self.file_stem}{slug}.{self.ext}"

    def record(self, child: Child, rng: random.Random) -> Known:
        """The agency's stable record of ``child`` (created on first contact)."""
        if child.idx not in self.known:
            p = self.p
            eth = child.ethnicity if rng.random() >= p["nobt"] else "NOBT"
            self.known[child.idx] = Known(
                local_id=self.local_id(len(self.known) + 1),
                nhs=child.nhs if rng.random() < p["nhs"] else None,
                upn=child.upn if rng.random() < p["upn"] else None,
                sex="U" if rng.random() < p["sex_u"] else child.sex,
                ethnicity=self.ethnicity_norm.get(eth, eth),
                postcode=child.postcode if rng.random() < p["postcode"] else None,
                csc_known=rng.random() < p["csc"],
                pnc=f"{rng.randint(98, 125) % 100:02d}/{rng.randrange(10**6):06d}"
                f"{rng.choice('ABCDEFGHJKLMNPQRTUVWXYZ')}",
            )
        return self.known[child.idx]


def _uk(d: date, row: Row, name: str) -> str:
    return d.strftime("%d/%m/%Y")


def _iso(d: date, row: Row, name: str) -> str:
    return d.isoformat()


def _oracle(d: date, row: Row, name: str) -> str:
    return f"{d.day:02d}-{MONTHS[d.month - 1].upper()}-{d.year}"


def _excel(d: date, row: Row, name: str) -> datetime:
    return datetime(d.year, d.month, d.day)


def _police(d: date, row: Row, name: str) -> str:
    style = stable_pick(["iso"] * 6 + ["uk"], row.values.get("record_id"), "style")
    return d.isoformat() if style == "iso" else d.strftime("%d/%m/%Y")


def _hand(d: date, row: Row, name: str) -> Any:
    """Hand-typed dates: mostly real date cells, some typed as text in other styles."""
    if name == "extract_date":
        return _excel(d, row, name)
    style = stable_pick(["cell"] * 14 + ["dots"] * 3 + ["mon"] * 3, row.values["record_id"], name)
    if style == "dots":
        return d.strftime("%d.%m.%Y")
    if style == "mon":
        return f"{d.day:02d}-{MONTHS[d.month - 1]}-{d.year % 100:02d}"
    return _excel(d, row, name)


# Agency layouts are tables too: the formatter leaves them alone.
# fmt: off
COMMON_MENU = [
    "blank:sex", "blank:ethnicity", "blank:risk_level", "blank:referral_source",
    "blank:nrm_referral_status", "blank:missing_episodes_count", "blank:date_of_birth",
    "cond:risk_assessment_date", "cond:closure_reason", "cond:rhi", "cond:nrm_referral_date",
    "invalid_record_id", "nhs_invalid", "postcode_invalid", "end_before_start",
    "assessment_after_extract", "outside_period_closed", "outside_period_future", "rhi_order",
    "dob_after_period_end", "age_out_of_range", "not_assessed_long_open", "duplicate_record_id",
    "duplicate_episode", "event_after_extract_end", "event_after_extract_nrm",
    "date_after_period_end_end", "date_after_period_end_risk",
]
LA_CSC_FIELDS = (
    "record_id", "la_child_id", "nhs_number", "date_of_birth", "sex", "ethnicity",
    "home_postcode", "csc_status", "exploitation_types", "primary_exploitation_type",
    "risk_level", "risk_assessment_date", "referral_source", "episode_start_date",
    "episode_end_date", "closure_reason", "missing_episodes_count", *RHI,
    "nrm_referral_status", "nrm_referral_date", "extract_date",
)


def _bad_menu(bad: dict[str, list[Any]]) -> list[str]:
    return [k for k in bad if k.split(":")[0] in
            ("invalid_code", "invalid_date", "implausible_date", "invalid_integer", "defaulted")]


def _two_digit_uk(d: date) -> str:
    return d.strftime("%d/%m/%y")


def bolton() -> Agency:
    bad: dict[str, list[Any]] = {
        "invalid_code:sex": ["Non-binary"],
        "invalid_code:ethnicity": ["WBR", "Mixed"],
        "invalid_code:csc_status": ["CP/LAC", "Open"],
        "invalid_code:risk_level": ["Very High", "Medium-High"],
        "invalid_code:referral_source": ["YJS", "Social Media"],
        "invalid_code:closure_reason": ["Case closed", "NFA"],
        "invalid_code:nrm_referral_status": ["Pending", "Yes"],
        "invalid_code:exploitation_types": ["Radicalisation", "Peer on peer"],
        "invalid_date:date_of_birth": ["31/09/2009", "TBC"],
        "invalid_date:episode_end_date": ["31/11/2025", "01/13/2026"],
        "invalid_date:risk_assessment_date": ["TBC", "30/02/2026"],
        "implausible_date:date_of_birth": [_two_digit_uk],
        "implausible_date:risk_assessment_date": [_two_digit_uk],
        "invalid_integer:missing_episodes_count": ["2 (1 absent)", "several"],
        "invalid_integer:rhi_offered_count": ["Yes"],
    }
    return Agency(
        id="bolton-csc",
        file_stem="bolton_complex_safeguarding_",
        ext="csv",
        fields=(*LA_CSC_FIELDS, "upn", "disability", "education_status"),
        constants=("local_authority_code",),
        columns=[
            ("Episode ID", "f:record_id"), ("Child ID", "f:la_child_id"),
            ("NHS Number", "f:nhs_number"), ("UPN", "f:upn"), ("Forename", "x:forename"),
            ("Surname", "x:surname"), ("DOB", "f:date_of_birth"), ("Gender", "f:sex"),
            ("Ethnicity", "f:ethnicity"), ("Address", "x:address"),
            ("Postcode", "f:home_postcode"), ("Disability", "f:disability"),
            ("Education Provision", "f:education_status"), ("CSC Status", "f:csc_status"),
            ("Legal Status", "x:legal_status"),
            ("Exploitation Category", "f:exploitation_types"),
            ("Primary Concern", "f:primary_exploitation_type"), ("Risk", "f:risk_level"),
            ("Risk Assessment Date", "f:risk_assessment_date"),
            ("Referral Source", "f:referral_source"), ("Date Opened", "f:episode_start_date"),
            ("Date Closed", "f:episode_end_date"), ("Closure Reason", "f:closure_reason"),
            ("Missing Episodes", "f:missing_episodes_count"),
            ("RHI Offered", "f:rhi_offered_count"), ("RHI Completed", "f:rhi_completed_count"),
            ("RHI Within 72h", "f:rhi_within_72h_count"),
            ("NRM Status", "f:nrm_referral_status"), ("NRM Date", "f:nrm_referral_date"),
            ("Team", "x:team"), ("Allocated Worker", "x:worker"), ("Case Notes", "x:notes"),
            ("Extract Date", "f:extract_date"),
        ],
        labels={
            "sex": {"M": "Male", "F": "Female", "U": "Unknown"},
            "ethnicity": {c: c for c in ETHNICITY_WEIGHTS} | {"CHNE": ("CHNE", "CNHE", "CNHE")},
            "csc_status": {"NONE": "Not open to CSC", "EARLY_HELP": "Early Help",
                           "CIN": "Child in Need", "CPP": "Child Protection Plan",
                           "CLA": "Looked After", "CARE_LEAVER": "Care Leaver",
                           "UNKNOWN": "Not recorded"},
            "exploitation_types": {"CSE": "CSE", "CCE": "CCE", "CL": "County Lines",
                                   "MSHT": "Trafficking", "GANG": "Gangs",
                                   "FIN": "Financial", "OTHER_EFH": "Online"},
            "risk_level": {"HIGH": "Significant", "MEDIUM": "Moderate", "LOW": "Low",
                           "NOT_ASSESSED": "Not yet assessed"},
            "referral_source": {
                "6": "Police", "2A": "School", "2B": "Education Services", "3A": "GP",
                "3B": "Health Visitor", "3C": "School Nurse", "3D": "Health - Other Primary",
                "3E": "A&E", "3F": "Health - Other", "4": "Housing", "5A": "Adult Social Care",
                "5B": "LA Internal", "5C": "Other Local Authority", "5D": "Early Help",
                "1A": "Family Member", "1B": "Acquaintance", "1C": "Self",
                "1D": "Individual - Other", "7": "Other Legal Agency", "8": "Voluntary Sector",
                "9": "Anonymous", "10": "Unknown"},
            "closure_reason": {"RISK_REDUCED": "Risk reduced", "STEP_DOWN": "Stepped down",
                               "TRANSFER_OTHER_LA": "Transferred to another LA",
                               "TRANSITION_ADULT": "Transition to adult services",
                               "DISENGAGED": "Disengaged", "CUSTODY": "Custody",
                               "OTHER": "Other"},
            "nrm_referral_status": {"NONE": "No referral",
                                    "REFERRED_PENDING": "Referred - awaiting decision",
                                    "RG_POSITIVE": "Positive RG", "RG_NEGATIVE": "Negative RG",
                                    "CG_POSITIVE": "Positive CG", "CG_NEGATIVE": "Negative CG",
                                    "WITHDRAWN": "Withdrawn", "UNKNOWN": "Not known"},
            "disability": {"Y": "Yes", "N": "No", "U": "Not known"},
            "education_status": {"MAINSTREAM": "Mainstream School", "SPECIAL": "Special School",
                                 "AP": "PRU / Alternative Provision",
                                 "EHE": "Elective Home Education", "CME": "Missing Education",
                                 "EET_16_17": "College / Training", "NEET_16_17": "NEET",
                                 "UNKNOWN": "Not known"},
        },
        seps={"exploitation_types": "; "},
        date_cell=_uk,
        record_id=lambda n: f"CS{104000 + n}",
        local_id=lambda n: str(1020000 + 37 * n),
        referral_weights={"6": 30, "2A": 20, "5D": 8, "3E": 4, "3F": 5, "1A": 8, "1C": 2,
                          "5A": 3, "5C": 3, "8": 6, "2B": 2, "7": 3, "9": 1, "10": 2, "3A": 1,
                          "3C": 1, "4": 1},
        rate=0.62,
        la_weights={"E08000001": 1},
        link_from=[],
        bad=bad,
        menu=[*COMMON_MENU, "blank:csc_status", "blank:primary_exploitation_type",
              "upn_invalid", "la_child_id_invalid", "primary_not_in_types", "cl_without_cce",
              *_bad_menu(bad)],
        p={"nhs": 0.8, "upn": 0.75, "nobt": 0.012, "sex_u": 0.002, "postcode": 0.98,
           "csc": 1.0},
    )


def _two_digit_oracle(d: date) -> str:
    return f"{d.day:02d}-{MONTHS[d.month - 1].upper()}-{d.year % 100:02d}"


def manchester() -> Agency:
    bad: dict[str, list[Any]] = {
        "invalid_code:sex": ["3", "I"],
        "invalid_code:ethnicity": ["Mixed - Other", "British"],
        "invalid_code:csc_status": ["CIN/CP", "S20"],
        "invalid_code:risk_level": ["Critical"],
        "invalid_code:referral_source": ["2", "RS6"],
        "invalid_code:closure_reason": ["CLOSED"],
        "invalid_code:exploitation_types": ["Online Harm"],
        "invalid_code:primary_exploitation_type": ["Online Harm"],
        "invalid_date:date_of_birth": ["31-SEP-2009", "UNKNOWN"],
        "invalid_date:episode_end_date": ["31-NOV-2025"],
        "invalid_date:nrm_referral_date": ["PENDING"],
        "implausible_date:date_of_birth": [_two_digit_oracle],
        "implausible_date:episode_end_date": [_two_digit_oracle],
        "invalid_integer:missing_episodes_count": ["1.5", "?"],
        "invalid_integer:rhi_completed_count": ["Y"],
    }
    return Agency(
        id="manchester-csc",
        file_stem="MCC_Mosaic_CE_Extract_",
        ext="csv",
        fields=(*LA_CSC_FIELDS, "upn"),
        constants=("local_authority_code",),
        columns=[
            ("EPISODE_ID", "f:record_id"), ("PERSON_ID", "f:la_child_id"),
            ("PNHSNumber", "f:nhs_number"), ("UPN_ID", "f:upn"), ("FORENAME", "x:forename"),
            ("SURNAME", "x:surname"), ("DATE_OF_BIRTH", "f:date_of_birth"),
            ("GENDER", "f:sex"), ("ETHNICITY_DESCRIPTION", "f:ethnicity"),
            ("ADDRESS_LINE_1", "x:address"), ("POST_CODE", "f:home_postcode"),
            ("CASE_STATUS", "f:csc_status"), ("CE_TYPES", "f:exploitation_types"),
            ("PRIMARY_CE_TYPE", "f:primary_exploitation_type"),
            ("CE_RISK_LEVEL", "f:risk_level"),
            ("RISK_ASSESSMENT_DATE", "f:risk_assessment_date"),
            ("REFERRAL_SOURCE", "f:referral_source"), ("START_DATE", "f:episode_start_date"),
            ("END_DATE", "f:episode_end_date"), ("END_REASON", "f:closure_reason"),
            ("MISSING_COUNT", "f:missing_episodes_count"),
            ("RHI_OFFERED", "f:rhi_offered_count"), ("RHI_COMPLETED", "f:rhi_completed_count"),
            ("RHI_IN_72HRS", "f:rhi_within_72h_count"), ("NRM_STATUS", "f:nrm_referral_status"),
            ("NRM_REFERRAL_DATE", "f:nrm_referral_date"), ("TEAM_NAME", "x:team"),
            ("WORKER_NAME", "x:worker"), ("CASE_NOTE_SUMMARY", "x:notes"),
            ("EXTRACT_DATE", "f:extract_date"),
        ],
        labels={
            "sex": {"M": "1", "F": "2", "U": "9"},
            "ethnicity": {
                "WBRI": "White British", "WIRI": "White Irish",
                "WIRT": "Traveller of Irish Heritage", "WOTH": "Any Other White Background",
                "WROM": "Gypsy/Roma", "MWBC": "White and Black Caribbean",
                "MWBA": "White and Black African", "MWAS": "White and Asian",
                "MOTH": "Any Other Mixed Background", "AIND": "Indian", "APKN": "Pakistani",
                "ABAN": "Bangladeshi", "AOTH": "Any Other Asian Background",
                "BCRB": "Caribbean", "BAFR": "African", "BOTH": "Any Other Black Background",
                "CHNE": "Chinese", "OOTH": "Any Other Ethnic Group", "REFU": "Declined",
                "NOBT": "Not Yet Obtained"},
            "csc_status": {"NONE": "CLOSED TO CSC", "EARLY_HELP": "EARLY HELP", "CIN": "CIN",
                           "CPP": "CP", "CLA": "LAC", "CARE_LEAVER": "CARE LEAVER",
                           "UNKNOWN": "UNKNOWN"},
            "exploitation_types": {
                "CSE": "Sexual Exploitation", "CCE": "Criminal Exploitation",
                "CL": "County Lines", "MSHT": "Trafficking/Modern Slavery",
                "GANG": "Gang Affiliation", "FIN": "Financial Exploitation",
                "OTHER_EFH": "Other EFH"},
            "risk_level": {"HIGH": "High", "MEDIUM": "Medium", "LOW": "Low",
                           "NOT_ASSESSED": "Not Assessed"},
            "referral_source": {},
            "closure_reason": {"RISK_REDUCED": "RISK REDUCED",
                               "STEP_DOWN": "STEP DOWN TO EARLY HELP",
                               "TRANSFER_OTHER_LA": "TRANSFER OUT",
                               "TRANSITION_ADULT": "ADULT SERVICES",
                               "DISENGAGED": "DISENGAGED", "CUSTODY": "CUSTODY",
                               "OTHER": "OTHER"},
            "nrm_referral_status": {"NONE": "NONE", "REFERRED_PENDING": "PENDING",
                                    "RG_POSITIVE": "RG POSITIVE", "RG_NEGATIVE": "RG NEGATIVE",
                                    "CG_POSITIVE": "CG POSITIVE", "CG_NEGATIVE": "CG NEGATIVE",
                                    "WITHDRAWN": "WITHDRAWN", "UNKNOWN": "UNKNOWN"},
        },
        seps={"exploitation_types": "|"},
        date_cell=_oracle,
        record_id=lambda n: str(5300000 + 13 * n),
        local_id=lambda n: str(1200000 + 29 * n),
        referral_weights={"6": 28, "2A": 19, "5D": 7, "3E": 5, "3F": 6, "1A": 8, "1C": 2,
                          "5A": 4, "5C": 3, "8": 7, "2B": 3, "7": 3, "9": 1, "10": 2, "3A": 1,
                          "3D": 1, "1B": 1},
        rate=1.0,
        la_weights={"E08000003": 1},
        link_from=[],
        bad=bad,
        menu=[*COMMON_MENU, "blank:csc_status", "blank:primary_exploitation_type",
              "upn_invalid", "la_child_id_invalid", "primary_not_in_types", "cl_without_cce",
              *_bad_menu(bad)],
        p={"nhs": 0.85, "upn": 0.7, "nobt": 0.015, "sex_u": 0.003, "postcode": 0.97,
           "csc": 1.0},
    )


def _wigan_types(types: tuple[str, ...]) -> tuple[str, ...]:
    """Eclipse assessment factors have no county-lines or financial code (11A/24A/12A/13A/20)."""
    out = [{"CL": "CCE", "FIN": "OTHER_EFH"}.get(t, t) for t in types]
    return tuple(dict.fromkeys(out))


def wigan() -> Agency:
    bad: dict[str, list[Any]] = {
        "invalid_code:ethnicity": ["??"],
        "invalid_code:csc_status": ["PLACED"],
        "invalid_code:risk_level": ["VERY_HIGH"],
        "invalid_code:referral_source": ["MASH"],
        "invalid_code:exploitation_types": ["6A", "10A"],
        "invalid_code:closure_reason": ["CLOSED"],
        "invalid_code:nrm_referral_status": ["DECISION_AWAITED"],
        "invalid_date:date_of_birth": ["unknown"],
        "invalid_date:episode_end_date": ["TBC"],
        "invalid_date:risk_assessment_date": ["due"],
        "implausible_date:date_of_birth": [datetime(1900, 1, 1)],
        "invalid_integer:missing_episodes_count": ["2?", 1.5],
        "invalid_integer:rhi_within_72h_count": ["n/k"],
    }
    return Agency(
        id="wigan-csc",
        file_stem="Wigan_Complex_Safeguarding_Return_",
        ext="xlsx",
        fields=(*LA_CSC_FIELDS, "youth_justice_involvement"),
        constants=("local_authority_code",),
        columns=[
            ("EPISODEID", "f:record_id"), ("PERSONID", "f:la_child_id"),
            ("NHSNUMBER", "f:nhs_number"), ("FORENAME", "x:forename"),
            ("SURNAME", "x:surname"), ("DATEOFBIRTH", "f:date_of_birth"), ("SEX", "f:sex"),
            ("ETHNICITYCODE", "f:ethnicity"), ("ADDRESS", "x:address"),
            ("POSTCODE", "f:home_postcode"), ("CARESTATUS", "f:csc_status"),
            ("ASSESSMENTFACTORS", "f:exploitation_types"),
            ("PRIMARYFACTOR", "f:primary_exploitation_type"), ("RISKLEVEL", "f:risk_level"),
            ("RISKASSESSMENTDATE", "f:risk_assessment_date"),
            ("REFERRALSOURCE", "f:referral_source"), ("STARTDATE", "f:episode_start_date"),
            ("ENDDATE", "f:episode_end_date"), ("ENDREASON", "f:closure_reason"),
            ("MISSINGEPISODES", "f:missing_episodes_count"),
            ("RHIOFFERED", "f:rhi_offered_count"), ("RHICOMPLETED", "f:rhi_completed_count"),
            ("RHIWITHIN72HRS", "f:rhi_within_72h_count"),
            ("NRMSTATUS", "f:nrm_referral_status"), ("NRMDATE", "f:nrm_referral_date"),
            ("YJSINVOLVED", "f:youth_justice_involvement"), ("WORKERNAME", "x:worker"),
            ("NOTES", "x:notes"), ("EXTRACTDATE", "f:extract_date"),
        ],
        labels={
            "sex": {"M": "Male", "F": "Female", "U": "Unknown"},
            "ethnicity": {
                "WBRI": "WHITE_BRITISH", "WIRI": "WHITE_IRISH", "WIRT": "IRISHTRAVELLER",
                "WOTH": "WHITE_OTHER", "WROM": "GYPSY_ROMA",
                "MWBC": "MIXED_WHITE_BLACK_CARIBBEAN", "MWBA": "MIXED_WHITE_BLACK_AFRICAN",
                "MWAS": "MIXED_WHITE_ASIAN", "MOTH": "MIXED_OTHER", "AIND": "ASIAN_INDIAN",
                "APKN": "ASIAN_PAKISTANI", "ABAN": "ASIAN_BANGLADESHI", "AOTH": "ASIAN_OTHER",
                "BCRB": "BLACK_CARIBBEAN", "BAFR": "BLACK_AFRICAN", "BOTH": "BLACK_OTHER",
                "CHNE": "CHINESE", "OOTH": "OTHER_ETHNIC_GROUP", "REFU": "REFUSED",
                "NOBT": "NOT_KNOWN"},
            "csc_status": {"NONE": "NONE", "EARLY_HELP": "EARLYHELP", "CIN": "CIN",
                           "CPP": "CPP", "CLA": "CLA", "CARE_LEAVER": "CARELEAVER",
                           "UNKNOWN": "UNKNOWN"},
            "exploitation_types": {"CSE": "11A", "CCE": "24A", "MSHT": "12A", "GANG": "13A",
                                   "OTHER_EFH": "20"},
            "risk_level": {"HIGH": "High", "MEDIUM": "Medium", "LOW": "Low",
                           "NOT_ASSESSED": "Awaiting Assessment"},
            "referral_source": {
                "6": "POLICE", "2A": "SCHOOL", "2B": "EDUCATION_SERVICES", "3A": "GP",
                "3B": "HEALTH_VISITOR", "3C": "SCHOOL_NURSE", "3D": "PRIMARY_HEALTH_OTHER",
                "3E": "A_AND_E", "3F": "HEALTH_OTHER", "4": "HOUSING",
                "5A": "LA_SOCIAL_CARE", "5B": "LA_OTHER_INTERNAL", "5C": "OTHER_LA",
                "5D": "EARLY_HELP", "1A": "FAMILY", "1B": "ACQUAINTANCE", "1C": "SELF",
                "1D": "INDIVIDUAL_OTHER", "7": "LEGAL_AGENCY", "8": "OTHER",
                "9": "ANONYMOUS", "10": "UNKNOWN"},
            "closure_reason": {"RISK_REDUCED": "RISKREDUCED", "STEP_DOWN": "STEPDOWN",
                               "TRANSFER_OTHER_LA": "TRANSFERRED",
                               "TRANSITION_ADULT": "ADULTSERVICES",
                               "DISENGAGED": "NONENGAGEMENT", "CUSTODY": "CUSTODY",
                               "OTHER": "OTHER"},
            "nrm_referral_status": {"NONE": "NOT_REFERRED", "REFERRED_PENDING": "REFERRED",
                                    "RG_POSITIVE": "RG_POSITIVE", "RG_NEGATIVE": "RG_NEGATIVE",
                                    "CG_POSITIVE": "CG_POSITIVE", "CG_NEGATIVE": "CG_NEGATIVE",
                                    "WITHDRAWN": "WITHDRAWN", "UNKNOWN": "UNKNOWN"},
            "youth_justice_involvement": {"Y": "Y", "N": "N"},
        },
        seps={"exploitation_types": ","},
        date_cell=_excel,
        record_id=lambda n: 880000 + 7 * n,
        local_id=lambda n: 300000 + 11 * n,
        referral_weights={"6": 29, "2A": 21, "5D": 9, "3E": 4, "3F": 5, "1A": 8, "1C": 2,
                          "5A": 3, "5C": 3, "8": 6, "2B": 2, "7": 3, "9": 1, "10": 2, "3B": 1,
                          "4": 1},
        rate=0.58,
        la_weights={"E08000010": 1},
        link_from=[],
        bad=bad,
        menu=[*COMMON_MENU, "blank:csc_status", "blank:primary_exploitation_type",
              "la_child_id_invalid", "primary_not_in_types", *_bad_menu(bad)],
        p={"nhs": 0.9, "upn": 0.0, "nobt": 0.015, "sex_u": 0.003, "postcode": 0.98,
           "csc": 1.0},
        express=_wigan_types,
    )


def _gmp_types(types: tuple[str, ...]) -> tuple[str, ...]:
    """Police flags: CSE, CCE, county lines, MSHT and gang only."""
    out = [{"FIN": "CCE", "OTHER_EFH": "CSE"}.get(t, t) for t in types]
    return tuple(dict.fromkeys(out))


GMP_FLAGS = {"CSE Flag": "CSE", "CCE Flag": "CCE", "County Lines Flag": "CL",
             "MSHT Flag": "MSHT", "Gang Flag": "GANG"}


def gmp() -> Agency:
    bad: dict[str, list[Any]] = {
        "invalid_code:local_authority_code": ["Cheshire East", "Lancashire"],
        "invalid_code:sex": ["X"],
        "invalid_code:ethnicity": ["White", "W"],
        "invalid_code:risk_level": ["Absent", "Very Low"],
        "invalid_code:csc_status": ["Open"],
        "invalid_code:referral_source": ["Internet"],
        "invalid_code:nrm_referral_status": ["Pending"],
        "invalid_code:primary_exploitation_type": ["Online"],
        "invalid_code:disruption_actions": ["WARNING LETTER", "S49 NOTICE"],
        "defaulted:closure_reason": ["NFA - no further concerns", "Filed", "Superseded"],
        "invalid_date:date_of_birth": ["2009-02-30", "Unknown"],
        "invalid_date:episode_end_date": ["31/11/2025", "2026-06-31"],
        "invalid_date:nrm_referral_date": ["TBC"],
        "implausible_date:date_of_birth": ["1899-12-31"],
        "implausible_date:risk_assessment_date": [lambda d: f"00{d.year % 100:02d}"
                                                  f"-{d.month:02d}-{d.day:02d}"],
        "invalid_integer:missing_episodes_count": ["-1", "3+"],
        "invalid_integer:rhi_offered_count": ["Y"],
    }
    return Agency(
        id="gmp",
        file_stem="GMP_CE_Nominals_",
        ext="csv",
        fields=(
            "record_id", "agency_person_id", "nhs_number", "date_of_birth", "sex",
            "ethnicity", "home_postcode", "local_authority_code", "csc_status",
            "exploitation_types", "primary_exploitation_type", "risk_level",
            "risk_assessment_date", "referral_source", "episode_start_date",
            "episode_end_date", "closure_reason", "missing_episodes_count", *RHI,
            "nrm_referral_status", "nrm_referral_date", "disruption_actions", "extract_date",
        ),
        constants=(),
        columns=[
            ("Occurrence No", "f:record_id"), ("Nominal ID", "f:agency_person_id"),
            ("PNC ID", "x:pnc"), ("NHS No", "f:nhs_number"), ("Surname", "x:surname_upper"),
            ("Forenames", "x:forename"), ("DOB", "f:date_of_birth"), ("Gender", "f:sex"),
            ("Self Defined Ethnicity", "f:ethnicity"), ("Home Address", "x:address"),
            ("Postcode", "f:home_postcode"), ("Local Authority", "f:local_authority_code"),
            ("CSC Status", "f:csc_status"),
            *[(name, f"flag:{code}") for name, code in GMP_FLAGS.items()],
            ("Primary Exploitation Type", "f:primary_exploitation_type"),
            ("Risk Level", "f:risk_level"), ("Risk Review Date", "f:risk_assessment_date"),
            ("Referral Route", "f:referral_source"), ("Date Flagged", "f:episode_start_date"),
            ("Date Flag Removed", "f:episode_end_date"),
            ("Flag Removal Reason", "f:closure_reason"),
            ("Missing Reports", "f:missing_episodes_count"),
            ("Return Interview Offered", "f:rhi_offered_count"),
            ("Return Interview Completed", "f:rhi_completed_count"),
            ("Return Interview <72hrs", "f:rhi_within_72h_count"),
            ("NRM Status", "f:nrm_referral_status"),
            ("NRM Submission Date", "f:nrm_referral_date"),
            ("Disruption", "f:disruption_actions"), ("Extract Date", "f:extract_date"),
            ("Officer in Case", "x:officer"), ("Intelligence Summary", "x:notes"),
        ],
        labels={
            "sex": {"M": "M", "F": "F", "U": "U"},
            "ethnicity": {
                "WBRI": "W1", "WIRI": "W2", "WIRT": "W3", "WROM": "W4", "WOTH": "W9",
                "MWBC": "M1", "MWBA": "M2", "MWAS": "M3", "MOTH": "M9", "AIND": "A1",
                "APKN": "A2", "ABAN": "A3", "CHNE": "A4", "AOTH": "A9", "BCRB": "B1",
                "BAFR": "B2", "BOTH": "B9", "OOTH": ("O9", "O2"), "NOBT": "NS"},
            "local_authority_code": {**LA, "OUT_OF_GM": "Out of Force"},
            "csc_status": {"NONE": "None", "EARLY_HELP": "Early Help", "CIN": "CIN",
                           "CPP": "CP", "CLA": "LAC", "CARE_LEAVER": "Care Leaver",
                           "UNKNOWN": "Not Known"},
            "primary_exploitation_type": {"CSE": "CSE", "CCE": "CCE", "CL": "County Lines",
                                          "MSHT": "MSHT", "GANG": "Gang"},
            "risk_level": {"HIGH": "High", "MEDIUM": "Medium",
                           "LOW": ("Standard", "Standard", "Low"), "NOT_ASSESSED": "Not Graded"},
            "referral_source": {
                "6": ("Police Officer", "Neighbourhood Team", "Response"), "2A": "School",
                "5A": "Children's Services", "5B": "YJS", "3F": "Health", "3E": "A&E",
                "1A": "Parent/Carer", "1C": "Self", "9": "Crimestoppers", "7": "Other Force",
                "8": "Partner Agency"},
            "closure_reason": {"RISK_REDUCED": "Risk Reduced",
                               "STEP_DOWN": "Managed by Partner Agency",
                               "TRANSFER_OTHER_LA": "Moved Out of Force",
                               "TRANSITION_ADULT": "Now Adult",
                               "DISENGAGED": "No Longer Engaging", "CUSTODY": "In Custody",
                               "OTHER": "Other"},
            "nrm_referral_status": {"NONE": "Not Submitted", "REFERRED_PENDING": "Submitted",
                                    "RG_POSITIVE": "RG Positive", "RG_NEGATIVE": "RG Negative",
                                    "CG_POSITIVE": "CG Positive", "CG_NEGATIVE": "CG Negative",
                                    "WITHDRAWN": "Withdrawn", "UNKNOWN": "Not Known"},
            "disruption_actions": {"CAWN": "CAWN", "ARREST": "ARREST", "CHARGE": "CHARGE",
                                   "LINE_CLOSURE": "LINE CLOSURE",
                                   "CLOSURE_ORDER": "CLOSURE ORDER", "SRO": "SCPO",
                                   "CIVIL_INJUNCTION": "INJUNCTION", "SHPO": "SHPO",
                                   "STPO_STRO": "STRO"},
        },
        seps={"disruption_actions": ";"},
        date_cell=_police,
        record_id=lambda n: f"OC-{24 + n // 520:02d}-{30000 + 17 * n:07d}",
        local_id=lambda n: f"N{4100000 + 23 * n}",
        referral_weights={"6": 52, "2A": 10, "5A": 12, "5B": 3, "3F": 4, "3E": 3, "1A": 7,
                          "1C": 1, "9": 2, "7": 3, "8": 3},
        rate=0.2,
        # Children in Bolton, Manchester and Wigan mostly arrive through the links below.
        la_weights={**LA_WEIGHTS, "E08000001": 2, "E08000003": 6, "E08000010": 2,
                    "OUT_OF_GM": 3},
        link_from=[("bolton-csc", 0.42, ()), ("manchester-csc", 0.36, ()),
                   ("wigan-csc", 0.42, ())],
        bad=bad,
        menu=[*COMMON_MENU, "blank:csc_status", "blank:primary_exploitation_type",
              "blank:local_authority_code", "no_identifier", "primary_not_in_types",
              "cl_without_cce", *_bad_menu(bad)],
        p={"nhs": 0.62, "upn": 0.0, "nobt": 0.08, "sex_u": 0.004, "postcode": 0.92,
           "csc": 0.7},
        express=_gmp_types,
        ethnicity_norm={"REFU": "NOBT"},
    )


def mft() -> Agency:
    bad: dict[str, list[Any]] = {
        "invalid_code:sex": ["I", "Not recorded"],
        "invalid_code:ethnicity": ["A1", "C3"],
        "invalid_code:local_authority_code": ["Cheshire East"],
        "invalid_code:csc_status": ["Open to CSC"],
        "invalid_code:risk_level": ["Med-High"],
        "invalid_code:referral_source": ["Walk-in Centre"],
        "invalid_code:exploitation_types": ["FGM"],
        "invalid_code:closure_reason": ["Discharged"],
        "invalid_code:nrm_referral_status": ["Referred?"],
        "invalid_date:date_of_birth": ["2010-13-01"],
        "invalid_date:episode_end_date": ["2026-02-29", "2025-11-31"],
        "invalid_date:risk_assessment_date": ["pending"],
        "implausible_date:date_of_birth": [lambda d: f"1{d.isoformat()[1:]}"],
        "invalid_integer:missing_episodes_count": ["two", "1-2"],
        "invalid_integer:rhi_offered_count": ["Yes"],
    }
    return Agency(
        id="mft-health",
        file_stem="MFT_Safeguarding_CE_Tracker_",
        ext="txt",
        fields=(
            "record_id", "agency_person_id", "nhs_number", "date_of_birth", "sex",
            "ethnicity", "home_postcode", "local_authority_code", "csc_status",
            "exploitation_types", "primary_exploitation_type", "risk_level",
            "risk_assessment_date", "referral_source", "episode_start_date",
            "episode_end_date", "closure_reason", "missing_episodes_count", *RHI,
            "nrm_referral_status", "nrm_referral_date", "extract_date",
        ),
        constants=(),
        columns=[
            ("Tracker Ref", "f:record_id"), ("Local Patient ID", "f:agency_person_id"),
            ("NHS Number", "f:nhs_number"), ("Patient Name", "x:full_name"),
            ("PersonBirthDate", "f:date_of_birth"),
            ("Person Stated Gender Code", "f:sex"), ("Ethnic Category", "f:ethnicity"),
            ("Postcode", "f:home_postcode"), ("GP Practice", "x:gp"),
            ("Resident Local Authority", "f:local_authority_code"),
            ("Social Care Status", "f:csc_status"), ("CE Concern Type", "f:exploitation_types"),
            ("Primary Concern", "f:primary_exploitation_type"), ("CSE Risk", "f:risk_level"),
            ("Risk Assessed On", "f:risk_assessment_date"), ("Referred By", "f:referral_source"),
            ("Date Added to Tracker", "f:episode_start_date"),
            ("Date Removed", "f:episode_end_date"), ("Removal Reason", "f:closure_reason"),
            ("Missing Episodes (Qtr)", "f:missing_episodes_count"),
            ("RHI Offered", "f:rhi_offered_count"), ("RHI Completed", "f:rhi_completed_count"),
            ("RHI <72h", "f:rhi_within_72h_count"), ("NRM Status", "f:nrm_referral_status"),
            ("NRM Date", "f:nrm_referral_date"), ("Attendance Date", "x:attendance"),
            ("Safeguarding Nurse", "x:worker"), ("Clinical Notes", "x:notes"),
            ("Data Extracted", "f:extract_date"),
        ],
        labels={
            "sex": {"M": "1", "F": "2", "U": ("9", "X")},
            "ethnicity": {
                "WBRI": "A", "WIRI": "B", "WOTH": "C", "MWBC": "D", "MWBA": "E", "MWAS": "F",
                "MOTH": "G", "AIND": "H", "APKN": "J", "ABAN": "K", "AOTH": "L", "BCRB": "M",
                "BAFR": "N", "BOTH": "P", "CHNE": "R", "OOTH": "S", "REFU": "Z", "NOBT": "99"},
            "local_authority_code": dict(LA),
            "csc_status": {"NONE": "None", "EARLY_HELP": "Early Help", "CIN": "CIN",
                           "CPP": "CP Plan", "CLA": "LAC", "CARE_LEAVER": "Care Leaver",
                           "UNKNOWN": "Not known"},
            "exploitation_types": {"CSE": "CSE", "CCE": "CCE", "CL": "County Lines",
                                   "MSHT": "Trafficking", "GANG": "Gangs/SYV",
                                   "FIN": "Financial", "OTHER_EFH": "Online"},
            "risk_level": {"HIGH": "High", "MEDIUM": "Medium", "LOW": "Low",
                           "NOT_ASSESSED": "Not Assessed"},
            "referral_source": {
                "3E": "ED", "3A": "GP", "3C": "School Nurse", "3B": "Health Visitor",
                "3F": ("CAMHS", "Sexual Health", "Paediatrics"), "6": "Police",
                "5A": "Children's Social Care", "2A": "School", "1C": "Self",
                "1A": "Parent/Carer"},
            "closure_reason": {"RISK_REDUCED": "Risk reduced",
                               "STEP_DOWN": "Discharged to other service",
                               "TRANSFER_OTHER_LA": "Moved out of area",
                               "TRANSITION_ADULT": "Transition to adult services",
                               "DISENGAGED": "Disengaged / DNA", "CUSTODY": "Custody",
                               "OTHER": "Other"},
            "nrm_referral_status": {"NONE": "No", "REFERRED_PENDING": "Referred",
                                    "RG_POSITIVE": "Positive RG", "RG_NEGATIVE": "Negative RG",
                                    "CG_POSITIVE": "Positive CG", "CG_NEGATIVE": "Negative CG",
                                    "WITHDRAWN": "Withdrawn", "UNKNOWN": "Unknown"},
        },
        seps={"exploitation_types": ", "},
        date_cell=_iso,
        record_id=lambda n: f"SG-{n:05d}",
        local_id=lambda n: f"RM{2300000 + 41 * n}",
        referral_weights={"3E": 35, "3A": 6, "3C": 8, "3B": 2, "3F": 20, "6": 8, "5A": 12,
                          "2A": 5, "1C": 2, "1A": 3},
        rate=0.3,
        la_weights={"E08000003": 60, "E08000009": 25, "E08000006": 8, "E08000007": 7},
        link_from=[("manchester-csc", 0.22, ()),
                   ("gmp", 0.2, ("E08000003", "E08000009", "E08000006", "E08000007"))],
        bad=bad,
        menu=[*COMMON_MENU, "blank:csc_status", "blank:primary_exploitation_type",
              "blank:local_authority_code", "no_identifier", "primary_not_in_types",
              "cl_without_cce", *_bad_menu(bad)],
        p={"nhs": 0.98, "upn": 0.0, "nobt": 0.02, "sex_u": 0.004, "postcode": 0.99,
           "csc": 0.6},
        ethnicity_norm={"WIRT": "WOTH", "WROM": "WOTH"},
    )


def _two_digit_slash(d: date) -> str:
    return d.strftime("%d/%m/%y")


def vcs() -> Agency:
    bad: dict[str, list[Any]] = {
        "invalid_code:sex": ["?"],
        "invalid_code:ethnicity": ["Asian", "Mixed"],
        "invalid_code:local_authority_code": ["Lancs"],
        "invalid_code:risk_level": ["Red/Amber", "TBC"],
        "invalid_code:exploitation_types": ["Both"],
        "invalid_code:closure_reason": ["Closed"],
        "invalid_code:nrm_referral_status": ["Y?"],
        "defaulted:referral_source": ["Youth club", "Football coach", "Friend", "Mosque"],
        "invalid_date:date_of_birth": ["unknown", "?"],
        "invalid_date:episode_end_date": ["Sept 25", "end of term"],
        "invalid_date:risk_assessment_date": ["tbc"],
        "implausible_date:date_of_birth": [_two_digit_slash],
        "implausible_date:episode_end_date": [_two_digit_slash],
        "invalid_integer:missing_episodes_count": ["?", "x"],
    }
    yes_no = {1: "Y", 0: "N"}
    return Agency(
        id="vcs-tracker",
        file_stem="Brightwater_Tracker_",
        ext="xlsx",
        fields=(
            "record_id", "agency_person_id", "nhs_number", "date_of_birth", "sex",
            "ethnicity", "home_postcode", "local_authority_code", "exploitation_types",
            "primary_exploitation_type", "risk_level", "risk_assessment_date",
            "referral_source", "episode_start_date", "episode_end_date", "closure_reason",
            "missing_episodes_count", *RHI, "nrm_referral_status", "nrm_referral_date",
            "extract_date",
        ),
        constants=("csc_status",),
        columns=[
            ("Ref", "f:record_id"), ("Client ID", "f:agency_person_id"),
            ("Initials", "x:initials"), ("DOB", "f:date_of_birth"), ("M/F", "f:sex"),
            ("Ethnicity", "f:ethnicity"), ("NHS No", "f:nhs_number"),
            ("Postcode", "f:home_postcode"), ("Area", "f:local_authority_code"),
            ("Referred by", "f:referral_source"), ("Date referred", "f:episode_start_date"),
            ("Type", "f:exploitation_types"), ("Risk", "f:risk_level"),
            ("Last review", "f:risk_assessment_date"),
            ("Missing? (Y/N)", "f:missing_episodes_count"),
            ("RHI offered", "f:rhi_offered_count"), ("RHI done", "f:rhi_completed_count"),
            ("RHI <72hrs", "f:rhi_within_72h_count"), ("NRM (Y/N)", "f:nrm_referral_status"),
            ("NRM date", "f:nrm_referral_date"), ("Closed", "f:episode_end_date"),
            ("Outcome", "f:closure_reason"), ("Key worker", "x:key_worker"),
            ("Notes", "x:notes"), ("Extract Date", "f:extract_date"),
        ],
        labels={
            "sex": {"M": "M", "F": "F", "U": "U"},
            "ethnicity": {
                "WBRI": ("White British", "White British", "WB"), "WIRI": "Irish",
                "WIRT": "Irish Traveller", "WOTH": ("White Other", "White - Other"),
                "WROM": "Roma", "MWBC": "Mixed W/B Caribbean", "MWBA": "Mixed W/B African",
                "MWAS": "Mixed W/Asian", "MOTH": "Mixed Other", "AIND": "Indian",
                "APKN": "Pakistani", "ABAN": "Bangladeshi", "AOTH": "Asian Other",
                "BCRB": "Black Caribbean", "BAFR": "Black African", "BOTH": "Black Other",
                "CHNE": "Chinese", "OOTH": ("Arab", "Other"), "REFU": "Declined",
                "NOBT": "Not known"},
            "local_authority_code": dict(LA),
            "exploitation_types": {"CSE": "CSE", "CCE": "CCE", "CL": "County Lines",
                                   "MSHT": "Trafficking", "GANG": "Gangs",
                                   "FIN": "Financial", "OTHER_EFH": "Online"},
            "risk_level": {"HIGH": "Red", "MEDIUM": "Amber", "LOW": "Green",
                           "NOT_ASSESSED": "Not assessed"},
            "referral_source": {
                "2A": "School", "6": "Police", "5A": ("Social worker", "CSC"),
                "5D": "Early Help", "1A": ("Parent", "Mum"), "1C": "Self", "5B": "YJS",
                "3F": ("Health", "CAMHS"), "3A": "GP", "8": "Another charity", "4": "Housing"},
            "closure_reason": {"RISK_REDUCED": "Risk reduced", "STEP_DOWN": "Referred on",
                               "TRANSFER_OTHER_LA": "Moved away", "TRANSITION_ADULT": "18+",
                               "DISENGAGED": "Disengaged", "CUSTODY": "Custody",
                               "OTHER": "Other"},
            "nrm_referral_status": {"NONE": "N", "REFERRED_PENDING": "Y",
                                    "RG_POSITIVE": "Y - RG+", "RG_NEGATIVE": "Y - RG-",
                                    "CG_POSITIVE": "Y - CG+", "CG_NEGATIVE": "Y - CG-",
                                    "WITHDRAWN": "Withdrawn", "UNKNOWN": "Not sure"},
        },
        seps={"exploitation_types": "/"},
        date_cell=_hand,
        record_id=lambda n: f"BW-{n:04d}",
        local_id=lambda n: f"C{n:04d}",
        referral_weights={"2A": 25, "6": 15, "5A": 20, "5D": 8, "1A": 8, "1C": 3, "5B": 6,
                          "3F": 5, "3A": 1, "8": 5, "4": 2},
        rate=0.45,
        la_weights={"E08000004": 35, "E08000005": 30, "E08000002": 15, "E08000008": 20},
        link_from=[("gmp", 0.75, ("E08000004", "E08000005", "E08000002", "E08000008"))],
        bad=bad,
        menu=[*COMMON_MENU, "blank:local_authority_code", "no_identifier", "cl_without_cce",
              *_bad_menu(bad)],
        p={"nhs": 0.65, "upn": 0.0, "nobt": 0.09, "sex_u": 0.0, "postcode": 0.8, "csc": 0.0},
        int_labels=yes_no,
    )


def agencies() -> list[Agency]:
    """The six agency layouts, in the order they are simulated (linked agencies last)."""
    return [bolton(), manchester(), wigan(), gmp(), mft(), vcs()]
# fmt: on


# --------------------------------------------------------------------------- simulation


def simulate(rng: random.Random, ags: list[Agency]) -> Population:
    """Episodes for every agency from April 2024 to the last quarter end."""
    pop = Population(rng)
    for ag in ags:
        for source, p, las in ag.link_from:
            for src in list(pop.episodes.get(source, [])):
                if (las and src.child.la not in las) or rng.random() >= p:
                    continue
                start = src.start + timedelta(days=rng.randint(-100, 60))
                referral = weighted(rng, ag.referral_weights)
                pop.add_episode(ag.id, src.child, start, ag.record_id, referral)
        x = 0.0
        while True:
            x += rng.expovariate(ag.rate)
            start = SIM_START + timedelta(days=int(x))
            if start > QUARTERS[-1].end:
                break
            child = _returning_child(pop, ag, start, rng)
            if child is None:
                child = pop.new_child(weighted(rng, ag.la_weights), start)
            pop.add_episode(ag.id, child, start, ag.record_id, weighted(rng, ag.referral_weights))
    return pop


def _returning_child(pop: Population, ag: Agency, start: date, rng: random.Random) -> Child | None:
    """Now and then a child the agency closed earlier is referred again."""
    if rng.random() >= 0.08:
        return None
    closed = [e.child for e in pop.episodes.get(ag.id, []) if e.end < start - timedelta(days=30)]
    closed = [c for c in closed if age_at(c.dob, start) < 17]
    return rng.choice(closed) if closed else None


# --------------------------------------------------------------------------- rows


def build_row(ag: Agency, ep: Episode, qi: int, extract: date, rng: random.Random) -> Row:
    """The framework values of one episode as the agency reports it for quarter ``qi``."""
    q, child = QUARTERS[qi], ep.child
    k = ag.record(child, rng)
    v: dict[str, Any] = {"record_id": ep.record_id}
    ids = {
        "nhs_number": k.nhs,
        "upn": k.upn,
        "la_child_id": k.local_id,
        "agency_person_id": k.local_id,
    }
    end = ep.end if ep.end <= q.end else None
    assessed = [a for a in ep.assessments if a[0] <= q.end]
    nrm = [n for n in ep.nrm if n[0] <= q.end]
    m, o, c, w = child.missing[qi]
    if ag.int_labels:
        m, o, c, w = (min(x, 1) for x in (m, o, c, w))
    csc = child.csc[qi]
    if age_at(child.dob, q.end) >= 18:
        csc = "CARE_LEAVER" if csc == "CLA" else "NONE"
    types = ag.express(ep.types)
    v |= {
        "date_of_birth": child.dob,
        "sex": k.sex,
        "ethnicity": k.ethnicity,
        "home_postcode": k.postcode,
        "local_authority_code": child.la,
        "csc_status": csc if k.csc_known else "UNKNOWN",
        "exploitation_types": list(types),
        "primary_exploitation_type": types[0],
        "risk_level": assessed[-1][1] if assessed else "NOT_ASSESSED",
        "risk_assessment_date": assessed[-1][0] if assessed else None,
        "referral_source": ep.referral,
        "episode_start_date": ep.start,
        "episode_end_date": end,
        "closure_reason": ep.closure if end else None,
        "missing_episodes_count": m,
        "rhi_offered_count": o,
        "rhi_completed_count": c,
        "rhi_within_72h_count": w,
        "nrm_referral_status": nrm[-1][1] if nrm else "NONE",
        "nrm_referral_date": nrm[0][0] if nrm else None,
        "extract_date": extract,
        "disability": child.disability,
        "education_status": child.education[qi],
        "youth_justice_involvement": child.youth_justice,
        "disruption_actions": list(ep.disruption[qi]),
    }
    if ag.id == "bolton-csc" and m == 0:
        v |= dict.fromkeys(RHI)
    v |= {f: ids[f] for f in IDENTIFIERS if f in ag.fields}
    values = {f: v.get(f) for f in ag.fields}
    row = Row(values, child, ep)
    row.extras = _extras(ag, row, k, q, rng)
    return row


TEAMS = {
    "bolton-csc": ["Complex Safeguarding Team", "Phoenix Team", "CSE & Missing Team"],
    "manchester-csc": [
        "Complex Safeguarding Hub",
        "Protect North",
        "Protect South",
        "Protect Central",
    ],
}
GP_PRACTICES = [
    "Parkside Medical Centre",
    "Moss Lane Surgery",
    "Brookfield Health Centre",
    "Riverside Practice",
    "Hawthorn Group Practice",
    "Canal Street Surgery",
]
KEY_WORKERS = ["Jo", "Sam", "Ade", "Kerry", "Nadia", "Liam", "Bex"]
VULNERABILITY = ["MH", "SEN", "MH;SEN", "ASD", "LAC", "", "", "", "SUBSTANCE MISUSE"]


def _extras(ag: Agency, row: Row, k: Known, q: Quarter, rng: random.Random) -> dict[str, Any]:
    c, ep = row.child, row.episode
    workers = WORKERS_ACCENTED if ag.id == "manchester-csc" else WORKERS
    csc = row.values.get("csc_status")
    legal = ""
    if csc == "CLA":
        legal = stable_pick(
            ["C2 - Full Care Order", "V2 - Section 20", "C1 - Interim Care Order"], ep.record_id
        )
    elif csc == "CPP":
        legal = "CP Plan"
    attend = q.start + timedelta(days=rng.randrange(90))
    return {
        "forename": c.forename,
        "surname": c.surname,
        "surname_upper": c.surname.upper(),
        "full_name": f"{c.surname.upper()}, {c.forename}",
        "initials": f"{c.forename[0]}.{c.surname[0]}.",
        "address": c.address,
        "worker": stable_pick(workers, ag.id, ep.record_id),
        "notes": rng.choice(NOTES),
        "team": stable_pick(TEAMS.get(ag.id, [""]), ep.record_id),
        "legal_status": legal,
        "pnc": k.pnc,
        "gp": stable_pick(GP_PRACTICES, c.idx),
        "attendance": attend.isoformat(),
        "attendance2": (attend - timedelta(days=rng.randint(5, 200))).isoformat(),
        "officer": f"{rng.choice(['PC', 'DC', 'PS'])} {rng.randint(1000, 29999)} "
        f"{rng.choice(SURNAMES).upper()}",
        "key_worker": stable_pick(KEY_WORKERS, ep.record_id),
        "vulnerability": rng.choice(VULNERABILITY),
        "scribble": "",
    }


def snapshot(ag: Agency, pop: Population, qi: int, extract: date, rng: random.Random) -> list[Row]:
    """Every episode of ``ag`` open at some time in quarter ``qi``, in export order."""
    q = QUARTERS[qi]
    eps = [e for e in pop.episodes.get(ag.id, []) if e.start <= q.end and e.end >= q.start]
    eps.sort(key=lambda e: (e.start, str(e.record_id)))
    return [build_row(ag, e, qi, extract, rng) for e in eps]


# --------------------------------------------------------------------------- defects

INTENDED = {
    "blank": {"required-missing"},
    "no_identifier": {"no-identifier"},
    "cond": {"conditional-missing"},
    "invalid_code": {"invalid-code"},
    "defaulted": {"defaulted-code"},
    "invalid_date": {"invalid-date"},
    "implausible_date": {"implausible-date"},
    "invalid_integer": {"invalid-integer"},
    "invalid_record_id": {"invalid-record-id"},
    "nhs_invalid": {"nhs-number-invalid"},
    "upn_invalid": {"upn-invalid"},
    "la_child_id_invalid": {"la-child-id-invalid"},
    "postcode_invalid": {"postcode-invalid"},
    "end_before_start": {"end-before-start"},
    "assessment_after_extract": {"assessment-after-extract", "event-after-extract"},
    "outside_period_closed": {"outside-period"},
    "outside_period_future": {"outside-period"},
    "rhi_order": {"rhi-counts-order"},
    "primary_not_in_types": {"primary-not-in-types"},
    "cl_without_cce": {"county-lines-without-cce"},
    "dob_after_period_end": {"dob-after-period-end"},
    "age_out_of_range": {"age-out-of-range"},
    "not_assessed_long_open": {"not-assessed-long-open"},
    "duplicate_record_id": {"duplicate-record-id"},
    "duplicate_episode": {"duplicate-episode"},
    "event_after_extract_end": {"event-after-extract"},
    "event_after_extract_nrm": {"event-after-extract"},
    "date_after_period_end_end": {"date-after-period-end"},
    "date_after_period_end_risk": {"date-after-period-end"},
}
DEFAULTS = {"closure_reason": "OTHER", "referral_source": "10"}
ASSESSED = ("HIGH", "MEDIUM", "LOW")


@dataclass
class FileCtx:
    """What a defect needs to know about the file it is planted in."""

    agency: Agency
    quarter: Quarter
    extract: date
    rng: random.Random
    next_id: Callable[[], Any]


def _close(row: Row, end: date) -> None:
    row.values["episode_end_date"] = end
    if row.values.get("closure_reason") is None:
        row.values["closure_reason"] = row.episode.closure


def _bad_raw(ctx: FileCtx, kind: str, current: Any) -> Any:
    raw = ctx.rng.choice(ctx.agency.bad[kind])
    return raw(current) if callable(raw) else raw


def _corrupt_nhs(nhs: str, rng: random.Random) -> str:
    if rng.random() < 0.4:
        return nhs[:9]
    wrong = [d for d in "0123456789" if d != nhs[9]]
    return nhs[:9] + rng.choice(wrong)


def _corrupt_postcode(pc: str, rng: random.Random) -> str:
    outward, inward = pc.split(" ")
    return rng.choice(
        [f"{outward} {inward[:2]}", outward, f"{outward} O{inward[1:]}", f"{outward} {inward}X"]
    )


def _corrupt_id(ag: Agency, rid: Any) -> str:
    return {
        "bolton-csc": f"{rid}/1",
        "manchester-csc": f"{rid}.0",
        "wigan-csc": f"{rid} (old)",
        "gmp": f"{rid}/A",
        "mft-health": str(rid).replace("-", " "),
        "vcs-tracker": str(rid).replace("-", " "),
    }[ag.id]


def _corrupt_local(ag: Agency, local: Any) -> str:
    return {"bolton-csc": f"LL-{local}", "manchester-csc": f"MOS/{local}"}.get(ag.id, f"W{local}/1")


def apply_defect(kind: str, row: Row, ctx: FileCtx) -> bool:
    """Plant ``kind`` in ``row`` if the row is suitable; False leaves the row untouched."""
    v = row.values
    name, _, fld = kind.partition(":")
    risk = usable(v.get("risk_level"))
    if name == "blank":
        if v.get(fld) is None or (fld == "missing_episodes_count" and v[fld] != 0):
            return False
        if fld == "nrm_referral_status" and v[fld] != "NONE":
            return False
        v[fld] = None
    elif name == "no_identifier":
        v |= {f: None for f in IDENTIFIERS if f in v}
    elif name == "cond":
        return _conditional(fld, row, ctx.rng)
    elif name in ("invalid_code", "defaulted"):
        return _bad_code(name, fld, kind, row, ctx)
    elif name in ("invalid_date", "implausible_date"):
        current = v.get(fld)
        if not isinstance(current, date):
            return False
        if fld == "episode_end_date" and risk not in ASSESSED:
            return False
        v[fld] = Bad(name.replace("_", "-"), _bad_raw(ctx, kind, current))
    elif name == "invalid_integer":
        if not isinstance(v.get(fld), int) or (fld != "missing_episodes_count" and v[fld] == 0):
            return False
        v[fld] = Bad("invalid-integer", _bad_raw(ctx, kind, v[fld]))
    else:
        return _consistency(name, row, ctx)
    return True


def _conditional(fld: str, row: Row, rng: random.Random) -> bool:
    v = row.values
    if fld == "risk_assessment_date":
        if usable(v.get("risk_level")) not in ASSESSED or v.get(fld) is None:
            return False
        v[fld] = None
    elif fld == "closure_reason":
        if v.get("episode_end_date") is None or v.get(fld) is None:
            return False
        v[fld] = None
    elif fld == "rhi":
        if not v.get("missing_episodes_count") or any(v.get(f) is None for f in RHI):
            return False
        for f in rng.sample(RHI, rng.choice([1, 1, 2, 3])):
            v[f] = None
    else:
        if v.get("nrm_referral_status") in ("NONE", "UNKNOWN"):
            v["nrm_referral_status"] = "REFERRED_PENDING"
        v["nrm_referral_date"] = None
    return True


def _bad_code(name: str, fld: str, kind: str, row: Row, ctx: FileCtx) -> bool:
    v = row.values
    if v.get(fld) is None and fld != "disruption_actions":
        return False
    raw = _bad_raw(ctx, kind, v.get(fld))
    if name == "defaulted":
        v[fld] = Bad("defaulted-code", raw, DEFAULTS[fld])
    elif fld in ("exploitation_types", "disruption_actions"):
        if ctx.agency.id == "vcs-tracker":
            v[fld] = [Bad("invalid-code", raw)]
            v["primary_exploitation_type"] = v[fld][0]
        else:
            v[fld] = [*v[fld], Bad("invalid-code", raw)]
    else:
        v[fld] = Bad("invalid-code", raw)
    return True


def _consistency(name: str, row: Row, ctx: FileCtx) -> bool:
    v, rng, q, ex = row.values, ctx.rng, ctx.quarter, ctx.extract
    start, end = v.get("episode_start_date"), v.get("episode_end_date")
    risk, risk_date = usable(v.get("risk_level")), v.get("risk_assessment_date")
    after_end = (ex - q.end).days
    if name in (
        "invalid_record_id",
        "nhs_invalid",
        "upn_invalid",
        "la_child_id_invalid",
        "postcode_invalid",
    ):
        return _identifier(name, row, ctx)
    if not isinstance(start, date):
        return False
    if name == "end_before_start":
        if start < q.start + timedelta(days=3) or end is not None:
            return False
        _close(row, start - timedelta(days=rng.randint(1, min(14, (start - q.start).days))))
    elif name == "assessment_after_extract":
        if risk not in ASSESSED or risk_date is None:
            return False
        v["risk_assessment_date"] = ex + timedelta(days=rng.randint(20, 300))
    elif name == "outside_period_closed":
        if start > q.start - timedelta(days=30):
            return False
        _close(row, q.start - timedelta(days=rng.randint(1, 25)))
    elif name == "outside_period_future":
        if end is not None:
            return False
        v["episode_start_date"] = q.end + timedelta(days=rng.randint(1, after_end))
        v |= {
            "risk_level": "NOT_ASSESSED",
            "risk_assessment_date": None,
            "nrm_referral_status": "NONE",
            "nrm_referral_date": None,
        }
    elif name in ("rhi_order", "primary_not_in_types", "cl_without_cce"):
        return _counts_and_types(name, row, ctx)
    elif name == "dob_after_period_end":
        v["date_of_birth"] = q.end + timedelta(days=rng.randint(20, 400))
    elif name == "age_out_of_range":
        dob = v["date_of_birth"]
        v["date_of_birth"] = date(rng.randint(1990, q.end.year - 27), dob.month, min(dob.day, 28))
    elif name == "not_assessed_long_open":
        if end is not None or start > q.end - timedelta(days=40):
            return False
        v |= {"risk_level": "NOT_ASSESSED", "risk_assessment_date": None}
    elif name in ("event_after_extract_end", "date_after_period_end_end"):
        if end is not None or risk not in ASSESSED:
            return False
        late = rng.randint(5, 90) if name.startswith("event") else -rng.randint(0, after_end - 1)
        _close(row, ex + timedelta(days=late))
    elif name == "event_after_extract_nrm":
        if v.get("nrm_referral_status") in ("NONE", "UNKNOWN"):
            v["nrm_referral_status"] = "REFERRED_PENDING"
        v["nrm_referral_date"] = ex + timedelta(days=rng.randint(3, 60))
    elif name == "date_after_period_end_risk":
        if risk not in ASSESSED or risk_date is None:
            return False
        v["risk_assessment_date"] = q.end + timedelta(days=rng.randint(1, after_end))
    else:
        raise ValueError(f"unknown defect {name}")
    return True


def _identifier(name: str, row: Row, ctx: FileCtx) -> bool:
    v, ag, rng = row.values, ctx.agency, ctx.rng
    fld = {
        "invalid_record_id": "record_id",
        "nhs_invalid": "nhs_number",
        "upn_invalid": "upn",
        "la_child_id_invalid": "la_child_id",
        "postcode_invalid": "home_postcode",
    }[name]
    current = v.get(fld)
    if current is None:
        return False
    if name == "invalid_record_id":
        v[fld] = _corrupt_id(ag, current)
    elif name == "nhs_invalid":
        v[fld] = _corrupt_nhs(current, rng)
    elif name == "upn_invalid":
        v[fld] = rng.choice([c for c in UPN_LETTERS if c != current[0]]) + current[1:]
    elif name == "la_child_id_invalid":
        v[fld] = _corrupt_local(ag, current)
    else:
        v[fld] = _corrupt_postcode(current, rng)
    return True


def _counts_and_types(name: str, row: Row, ctx: FileCtx) -> bool:
    v, rng, ag = row.values, ctx.rng, ctx.agency
    if name == "rhi_order":
        if not v.get("missing_episodes_count") or any(v.get(f) is None for f in RHI):
            return False
        if ag.int_labels:
            v |= {"rhi_offered_count": 0, "rhi_completed_count": 1, "rhi_within_72h_count": 0}
        else:
            v["rhi_completed_count"] = v["rhi_offered_count"] + 1
        return True
    types = v["exploitation_types"]
    if name == "primary_not_in_types":
        table = ag.labels.get("primary_exploitation_type") or ag.labels["exploitation_types"]
        others = [c for c in table if c not in types]
        v["primary_exploitation_type"] = rng.choice(others)
        return True
    v["exploitation_types"] = rng.choice([["CL"], ["CSE", "CL"], ["CL", "MSHT"]])
    v["primary_exploitation_type"] = v["exploitation_types"][0]
    return True


# --------------------------------------------------------------------------- oracle

Finding = tuple[str, str]


def _codes_list(value: Any) -> tuple[list[str] | None, bool]:
    """(usable codes, any unrecognised) of a code-list value."""
    if value is None:
        return None, False
    return [x for x in value if not isinstance(x, Bad)], any(isinstance(x, Bad) for x in value)


def row_findings(row: Row, ag: Agency, q: Quarter) -> list[Finding]:
    """The findings tce must give for one row (rules of src/tce_cli/checks/rows.py)."""
    v = row.values
    u = {k: usable(x) for k, x in v.items()}
    out: list[Finding] = []
    for name in ag.fields:
        value = v.get(name)
        if name in REQUIRED and (value is None or value == []):
            out.append(("required-missing", name))
        if isinstance(value, Bad):
            out.append((value.kind, name))
        if isinstance(value, list) and any(isinstance(x, Bad) for x in value):
            out.append(("invalid-code", name))
    out += _identifier_findings(v, ag)
    out += _conditional_findings(v, u)
    out += _consistency_findings(v, u, q)
    out += _age_findings(u, q)
    ex = u.get("extract_date")
    for name in EVENT_DATES:
        d = u.get(name)
        if d is None:
            continue
        if ex is not None and d > ex:
            out.append(("event-after-extract", name))
        elif name != "episode_start_date" and d > q.end:
            out.append(("date-after-period-end", name))
    return out


def _identifier_findings(v: dict[str, Any], ag: Agency) -> list[Finding]:
    out: list[Finding] = []
    ids = [f for f in IDENTIFIERS if f in ag.fields]
    if ids and all(v.get(f) is None for f in ids):
        out.append(("no-identifier", "person_key"))
    if v.get("record_id") is not None and not RECORD_ID_RX.match(str(v["record_id"])):
        out.append(("invalid-record-id", "record_id"))
    if v.get("nhs_number") is not None and not nhs_valid(str(v["nhs_number"])):
        out.append(("nhs-number-invalid", "nhs_number"))
    if v.get("upn") is not None and not upn_valid(v["upn"]):
        out.append(("upn-invalid", "upn"))
    if v.get("la_child_id") is not None and not LA_CHILD_ID_RX.match(str(v["la_child_id"])):
        out.append(("la-child-id-invalid", "la_child_id"))
    if v.get("home_postcode") is not None and not postcode_valid(v["home_postcode"]):
        out.append(("postcode-invalid", "home_postcode"))
    return out


def _conditional_findings(v: dict[str, Any], u: dict[str, Any]) -> list[Finding]:
    out: list[Finding] = []
    if u.get("risk_level") in ASSESSED and v.get("risk_assessment_date") is None:
        out.append(("conditional-missing", "risk_assessment_date"))
    if u.get("episode_end_date") is not None and v.get("closure_reason") is None:
        out.append(("conditional-missing", "closure_reason"))
    missing = u.get("missing_episodes_count")
    if missing is not None and missing > 0:
        out += [("conditional-missing", f) for f in RHI if v.get(f) is None]
    status = u.get("nrm_referral_status")
    if status not in (None, "NONE", "UNKNOWN") and v.get("nrm_referral_date") is None:
        out.append(("conditional-missing", "nrm_referral_date"))
    return out


def _consistency_findings(v: dict[str, Any], u: dict[str, Any], q: Quarter) -> list[Finding]:
    out: list[Finding] = []
    start, end = u.get("episode_start_date"), u.get("episode_end_date")
    if start and end and end < start:
        out.append(("end-before-start", "episode_end_date"))
    risk_date, ex = u.get("risk_assessment_date"), u.get("extract_date")
    if risk_date and ex and risk_date > ex:
        out.append(("assessment-after-extract", "risk_assessment_date"))
    if (start and start > q.end) or (end and end < q.start):
        out.append(("outside-period", "episode_start_date"))
    counts = [x for f in ("missing_episodes_count", *RHI) if isinstance(x := u.get(f), int)]
    if len(counts) == 4:
        m, o, c, w = counts
        if not w <= c <= o <= m:
            out.append(("rhi-counts-order", "rhi_offered_count"))
    types, unknown = _codes_list(v.get("exploitation_types"))
    primary = u.get("primary_exploitation_type")
    if primary and types is not None and not unknown and primary not in types:
        out.append(("primary-not-in-types", "primary_exploitation_type"))
    if types and "CL" in types and "CCE" not in types:
        out.append(("county-lines-without-cce", "exploitation_types"))
    long_open = start and start <= q.end - timedelta(days=28) and (end is None or end > q.end)
    if u.get("risk_level") == "NOT_ASSESSED" and long_open:
        out.append(("not-assessed-long-open", "risk_level"))
    return out


def _age_findings(u: dict[str, Any], q: Quarter) -> list[Finding]:
    dob = u.get("date_of_birth")
    if dob is None:
        return []
    age = age_at(dob, q.end)
    if dob > q.end:
        return [("dob-after-period-end", "date_of_birth")]
    if age > 25:
        return [("age-out-of-range", "date_of_birth")]
    return [("age-18-plus", "date_of_birth")] if age >= 18 else []


def _person_key(v: dict[str, Any]) -> str | None:
    for f, basis in (
        ("nhs_number", "NHS"),
        ("upn", "UPN"),
        ("la_child_id", "LA_ID"),
        ("agency_person_id", "AGENCY_ID"),
    ):
        value = v.get(f)
        if value is not None:
            text = re.sub(r"[\s-]" if f == "nhs_number" else r"\s", "", str(value))
            return f"{basis}:{text.upper()}"
    return None


def uniqueness_findings(rows: list[Row]) -> list[list[Finding]]:
    """Repeated record ids and repeated child + start date; the first occurrence stays."""
    seen_ids: set[str] = set()
    seen_eps: set[tuple[str, date]] = set()
    out: list[list[Finding]] = []
    for row in rows:
        found: list[Finding] = []
        rid = row.values.get("record_id")
        dup = rid is not None and str(rid) in seen_ids
        if rid is not None:
            seen_ids.add(str(rid))
        if dup:
            found.append(("duplicate-record-id", "record_id"))
        key, start = _person_key(row.values), usable(row.values.get("episode_start_date"))
        if key is not None and start is not None:
            if (key, start) in seen_eps and not dup:
                found.append(("duplicate-episode", "episode_start_date"))
            seen_eps.add((key, start))
        out.append(found)
    return out


def _below(count: int, n: int, share: float, what: str, *, counted: bool = False) -> bool:
    """``count / n < share``, insisting the answer survives three rows more or fewer (rows that
    are ``counted`` or not), so a small change to the generator cannot flip it unnoticed."""
    k = 3 if counted else 0
    verdicts = {(count + d * k) / (n + d * 3) < share for d in (-1, 0, 1)}
    if len(verdicts) > 1:
        raise RuntimeError(f"{what}: {count} of {n} rows is too close to {share:.0%}; retune")
    return verdicts.pop()


def file_findings(rows: list[Row], ag: Agency, q: Quarter) -> Counter[str]:
    """Completeness, unknown shares and timeliness for the whole file."""
    found: Counter[str] = Counter()
    n = len(rows)
    for name in ag.fields:
        threshold = COMPLETENESS.get(name)
        if threshold is None:
            continue
        filled = sum(1 for r in rows if r.values.get(name) not in (None, []))
        if name == "exploitation_types" and ag.id == "gmp":
            filled = n  # flag columns always hold Y or N
        share = threshold / 100
        if filled < n if share == 1 else _below(filled, n, share, name, counted=True):
            found["low-completeness"] += 1
    eth = sum(1 for r in rows if usable(r.values.get("ethnicity")) in ("NOBT", "REFU"))
    sex = sum(1 for r in rows if usable(r.values.get("sex")) == "U")
    found["ethnicity-not-obtained"] += not _below(eth, n, 0.05, "NOBT/REFU") and eth / n > 0.05
    found["sex-unknown"] += not _below(sex, n, 0.02, "sex U") and sex / n > 0.02
    extracts = [usable(r.values.get("extract_date")) for r in rows]
    latest = max(d for d in extracts if d is not None)
    found["extract-late"] += latest > add_working_days(q.end, 20)
    return found


# --------------------------------------------------------------------------- files

FILE_HOOKS: dict[tuple[str, str], tuple[str, ...]] = {
    ("bolton-csc", "2025-26Q3"): ("disability_gap",),
    ("bolton-csc", "2025-26Q4"): ("blank_header",),
    ("mft-health", "2025-26Q3"): ("duplicate_header",),
    ("mft-health", "2025-26Q4"): ("sex_unknown_surge",),
    ("gmp", "2025-26Q3"): ("ragged_rows",),
    ("gmp", "2026-27Q2"): ("unmapped_column",),
    ("vcs-tracker", "2025-26Q4"): ("late_extract",),
}
FORCED: dict[tuple[str, str], tuple[str, ...]] = {
    ("wigan-csc", "2026-27Q1"): ("blank:episode_start_date",),
    **{("vcs-tracker", q.slug): ("implausible_date:date_of_birth",) for q in QUARTERS},
}


@dataclass
class ExportFile:
    """One generated file: its rows, layout quirks and expected findings."""

    agency: Agency
    quarter: Quarter
    extract: date
    rows: list[Row]
    columns: list[tuple[str, str]]
    hooks: tuple[str, ...]
    blank_rows: list[int] = field(default_factory=list)
    expected: Counter[str] = field(default_factory=Counter)

    @property
    def name(self) -> str:
        return self.agency.file_name(self.quarter.slug)


def extract_date(ag: Agency, q: Quarter, rng: random.Random) -> date:
    """When the agency ran its extract: a week or two after the quarter (one is late)."""
    if "late_extract" in FILE_HOOKS.get((ag.id, q.slug), ()):
        return q.end + timedelta(days=44)
    d = q.end + timedelta(days=rng.randint(5, 15))
    while d.weekday() >= 5:
        d += timedelta(days=1)
    return d


def plan_defects(ag: Agency, rng: random.Random) -> dict[str, list[str]]:
    """Which defect kinds go into which quarter's file (every kind at least once)."""
    plan: dict[str, list[str]] = {q.slug: [] for q in QUARTERS}
    for kind in ag.menu:
        chosen = [q.slug for q in QUARTERS if rng.random() < 0.15]
        for slug in chosen or [rng.choice(QUARTERS).slug]:
            plan[slug].append(kind)
    for (agency_id, slug), kinds in FORCED.items():
        if agency_id == ag.id:
            plan[slug] += [k for k in kinds if k not in plan[slug]]
    return plan


def _clean(row: Row, q: Quarter) -> bool:
    return not row.defect and age_at(row.child.dob, q.end) < 18


def plant(
    export: ExportFile, kinds: list[str], rng: random.Random, next_id: Callable[[], Any]
) -> None:
    """Plant each kind of defect in 0.3-0.9% of rows (at least one row)."""
    rows, q = export.rows, export.quarter
    ctx = FileCtx(export.agency, q, export.extract, rng, next_id)
    n = len(rows)
    for kind in kinds:
        count = max(1, round(rng.uniform(0.003, 0.009) * n))
        if kind.startswith("duplicate"):
            _duplicate(export, kind, count, ctx)
            continue
        order = list(range(n))
        rng.shuffle(order)
        placed = 0
        for i in order:
            if placed == count:
                break
            row = rows[i]
            if _clean(row, q) and apply_defect(kind, row, ctx):
                row.defect = kind
                row.planted = set(INTENDED[kind.split(":")[0]])
                placed += 1
        if placed < count:
            raise RuntimeError(f"{export.name}: could place only {placed} of {count} {kind}")


def _duplicate(export: ExportFile, kind: str, count: int, ctx: FileCtx) -> None:
    rows, rng = export.rows, ctx.rng
    for _ in range(count):
        candidates = [i for i, r in enumerate(rows) if _clean(r, export.quarter)]
        i = rng.choice(candidates)
        copy = rows[i].copy()
        if kind == "duplicate_episode":
            copy.values["record_id"] = ctx.next_id()
        copy.defect, copy.planted = kind, set(INTENDED[kind])
        rows[i].defect = "original"
        rows.insert(rng.randint(i + 1, min(len(rows), i + 40)), copy)


def apply_hooks(export: ExportFile, rng: random.Random) -> None:
    """File-level quirks: gaps in one column, odd headers, ragged and blank rows."""
    rows, q = export.rows, export.quarter
    clean = [r for r in rows if _clean(r, q)]
    for hook in export.hooks:
        if hook == "disability_gap":
            for r in rng.sample(rows, int(len(rows) * 0.56)):
                r.values["disability"] = None
        elif hook == "sex_unknown_surge":
            for r in rng.sample(clean, max(1, int(len(rows) * 0.035))):
                r.values["sex"] = "U"
        elif hook == "blank_header":
            export.columns = [*export.columns, ("", "x:scribble")]
            for r in rng.sample(rows, 9):
                r.extras["scribble"] = rng.choice(
                    ["chased 12/01", "check with SW", "??", "query DOB", "moved to CLA team"]
                )
        elif hook == "duplicate_header":
            at = [h for h, _ in export.columns].index("Attendance Date") + 1
            export.columns.insert(at, ("Attendance Date", "x:attendance2"))
        elif hook == "unmapped_column":
            at = [h for h, _ in export.columns].index("Extract Date")
            export.columns.insert(at, ("Vulnerability Markers", "x:vulnerability"))
        elif hook == "ragged_rows":
            for r, style in zip(rng.sample(clean, 3), ("split", "split", "short"), strict=True):
                r.extras["ragged"] = style
                r.extras["notes"] = "Found with cash, two phones and a knife"
                r.defect = "ragged"
    if export.agency.id == "vcs-tracker":
        n = len(rows)
        export.blank_rows = sorted(rng.sample(range(5, n - 5), rng.randint(1, 3)))


def expected_findings(export: ExportFile) -> Counter[str]:
    """Exact finding counts for the file, checking every planted defect landed alone."""
    ag, q, rows = export.agency, export.quarter, export.rows
    unique = uniqueness_findings(rows)
    total: Counter[str] = Counter()
    for row, dups in zip(rows, unique, strict=True):
        found = row_findings(row, ag, q) + dups
        assert len(found) == len(set(found)), (export.name, row.values["record_id"], found)
        codes = {code for code, _ in found} - {"age-18-plus"}
        if codes != row.planted:
            raise AssertionError(
                f"{export.name} row {row.values['record_id']} ({row.defect}): "
                f"planted {sorted(row.planted)}, oracle found {sorted(codes)}"
            )
        total.update(code for code, _ in found)
    total.update(file_findings(rows, ag, q))
    headers = [h for h, _ in export.columns]
    total["duplicate-header"] += len({h for h in headers if h and headers.count(h) > 1})
    total["blank-header"] += sum(1 for h in headers if not h.strip())
    total["unmapped-column"] += sum(1 for h in headers if h == "Vulnerability Markers")
    total["ragged-row"] += sum(1 for r in rows if r.extras.get("ragged"))
    total["blank-row"] += len(export.blank_rows)
    return Counter({k: n for k, n in total.items() if n > 0})


# --------------------------------------------------------------------------- writing

INT_FIELDS = ("missing_episodes_count", *RHI)


def render(ag: Agency, row: Row, name: str, value: Any) -> Any:
    """The cell the agency's system writes for framework value ``value`` of field ``name``."""
    if value is None:
        return None
    if isinstance(value, Bad):
        return value.raw
    if isinstance(value, list):
        parts = [render(ag, row, name, x) for x in value]
        return ag.seps.get(name, ";").join(str(p) for p in parts) or None
    if isinstance(value, date):
        return ag.date_cell(value, row, name)
    if name in INT_FIELDS:
        return ag.int_labels.get(value, value) if ag.int_labels else value
    if name == "nhs_number":
        return _nhs_cell(ag, str(value))
    label = ag.labels.get(name, {}).get(value, value)
    if isinstance(label, tuple):
        return stable_pick(label, row.values.get("record_id"), name)
    return label


def _nhs_cell(ag: Agency, nhs: str) -> Any:
    if ag.id == "mft-health" and len(nhs) == 10:
        return f"{nhs[:3]} {nhs[3:6]} {nhs[6:]}"
    if ag.id == "wigan-csc" and nhs.isdigit():
        return int(nhs)
    if ag.id == "vcs-tracker" and len(nhs) == 10 and int(nhs[-1]) % 3 == 0:
        return f"{nhs[:3]} {nhs[3:6]} {nhs[6:]}"
    return nhs


def cells(export: ExportFile, row: Row) -> list[Any]:
    """One row of cells in the file's column order."""
    out: list[Any] = []
    for _, source in export.columns:
        kind, _, name = source.partition(":")
        if kind == "x":
            out.append(row.extras.get(name) or None)
        elif kind == "flag":
            types, _ = _codes_list(row.values.get("exploitation_types"))
            out.append("Y" if name in (types or []) else "N")
        else:
            out.append(render(export.agency, row, name, row.values.get(name)))
    return out


CSV_STYLE = {
    "bolton-csc": ("utf-8", ",", "\r\n"),
    "manchester-csc": ("cp1252", ";", "\r\n"),
    "gmp": ("utf-8", ",", "\n"),
    "mft-health": ("utf-8-sig", "\t", "\r\n"),
}


def write_csv(export: ExportFile, path: Path) -> None:
    encoding, delimiter, newline = CSV_STYLE[export.agency.id]
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, lineterminator=newline)
    writer.writerow([h for h, _ in export.columns])
    for row in export.rows:
        line = ["" if c is None else str(c) for c in cells(export, row)]
        ragged = row.extras.get("ragged")
        if ragged == "split":
            # The police export does not quote free text: a comma in the summary splits it.
            head, _, tail = line[-1].partition(", ")
            buf.write(delimiter.join([*line[:-1], head, tail]) + newline)
            continue
        if ragged == "short":
            line = line[:-1]
            buf.write(delimiter.join(line) + newline)
            continue
        writer.writerow(line)
    path.write_bytes(buf.getvalue().encode(encoding))


def _workbook() -> Workbook:
    wb = Workbook()
    wb.properties.creator = "tce examples/generate.py"
    wb.properties.created = FIXED_TIME
    wb.properties.modified = FIXED_TIME
    return wb


def write_wigan(export: ExportFile, path: Path) -> None:
    wb = _workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "Complex Safeguarding"
    ws.append(["Wigan Council – Complex Safeguarding Return"])
    ws.append([f"Report run on {export.extract:%d/%m/%Y} 07:42"])
    ws.append([])
    ws.append([h for h, _ in export.columns])
    for row in export.rows:
        ws.append(cells(export, row))
    for column in ws.iter_cols(min_row=5):
        for cell in column:
            if isinstance(cell.value, datetime):
                cell.number_format = "DD/MM/YYYY"
            elif isinstance(cell.value, int) and cell.value > 10**9:
                cell.number_format = "0"
    ws.freeze_panes = "A5"
    wb.save(path)


def write_vcs(export: ExportFile, path: Path) -> None:
    wb = _workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "Tracker"
    ws.append([h for h, _ in export.columns])
    blanks = set(export.blank_rows)
    for i, row in enumerate(export.rows):
        if i in blanks:
            ws.append([])
        ws.append(cells(export, row))
    for column in ws.iter_cols(min_row=2):
        for cell in column:
            if isinstance(cell.value, datetime):
                cell.number_format = "DD/MM/YYYY"
    lists = wb.create_sheet("Lists")
    lists.sheet_state = "hidden"
    options = {
        "Risk": ["Red", "Amber", "Green", "Not assessed"],
        "Type": ["CSE", "CCE", "CSE/CCE", "CCE/County Lines", "Trafficking", "Online"],
        "Y/N": ["Y", "N"],
        "Area": ["Bury", "Oldham", "Rochdale", "Tameside"],
    }
    for col, (title, values) in enumerate(options.items(), start=1):
        lists.cell(row=1, column=col, value=title)
        for r, value in enumerate(values, start=2):
            lists.cell(row=r, column=col, value=value)
    risk_col = [h for h, _ in export.columns].index("Risk") + 1
    letter = get_column_letter(risk_col)
    dv = DataValidation(type="list", formula1="=Lists!$A$2:$A$5", allow_blank=True)
    dv.add(f"{letter}2:{letter}1000")
    ws.add_data_validation(dv)
    ws.freeze_panes = "A2"
    wb.save(path)


def write(export: ExportFile, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / export.name
    if export.agency.id == "wigan-csc":
        write_wigan(export, path)
    elif export.agency.id == "vcs-tracker":
        write_vcs(export, path)
    else:
        write_csv(export, path)
    return path


# --------------------------------------------------------------------------- main


def generate(out: Path, seed: int = SEED) -> dict[str, dict[str, int]]:
    """Write every example file under ``out`` and return the expected findings per file."""
    rng = random.Random(seed)
    ags = agencies()
    pop = simulate(random.Random(f"{seed}-population"), ags)
    expected: dict[str, dict[str, int]] = {}
    for ag in ags:
        plan = plan_defects(ag, random.Random(f"{seed}-{ag.id}-plan"))
        counter = iter(range(pop.ids[ag.id] + 1, 10**7))

        def next_id(ag: Agency = ag, counter: Any = counter) -> Any:
            return ag.record_id(next(counter))

        for qi, q in enumerate(QUARTERS):
            file_rng = random.Random(f"{seed}-{ag.id}-{q.slug}")
            extract = extract_date(ag, q, file_rng)
            export = ExportFile(
                agency=ag,
                quarter=q,
                extract=extract,
                rows=snapshot(ag, pop, qi, extract, rng),
                columns=list(ag.columns),
                hooks=FILE_HOOKS.get((ag.id, q.slug), ()),
            )
            apply_hooks(export, file_rng)
            plant(export, plan[q.slug], file_rng, next_id)
            export.expected = expected_findings(export)
            write(export, out / q.slug)
            expected[f"{q.slug}/{export.name}"] = dict(sorted(export.expected.items()))
            _summary(export)
    return dict(sorted(expected.items()))


def _summary(export: ExportFile) -> None:
    defective = sum(1 for r in export.rows if r.planted)
    total = sum(export.expected.values())
    print(
        f"{export.quarter.slug}/{export.name}: {len(export.rows)} rows, "
        f"{defective} with planted defects, {total} findings expected"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument(
        "--expected",
        type=Path,
        default=None,
        help="where to write expected findings (default: examples/expected_findings.json "
        "when --out is the default folder, else OUT/expected_findings.json)",
    )
    args = parser.parse_args(argv)
    expected = generate(args.out, args.seed)
    target = args.expected or (
        EXPECTED if args.out.resolve() == DEFAULT_OUT else args.out / "expected_findings.json"
    )
    target.write_text(json.dumps(expected, indent=2) + "\n", encoding="utf-8")
    print(f"{len(expected)} files written to {args.out}; expected findings in {target}")


if __name__ == "__main__":
    main()
