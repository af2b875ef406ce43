"""Small admissions-shaped CSVs for the records tests."""

from __future__ import annotations

from pathlib import Path

HEADER = (
    "encounter_id,patient_id,date_of_birth,sex,age,admission_date,discharge_date,"
    "admission_type,department,primary_dx,loinc_code,lab_value,heart_rate,systolic_bp,"
    "temperature_c,weight,weight_unit,postal_code"
)
GOOD_ROWS = [
    "E10000001,P1234567,1980-05-01,M,40,2020-06-01,2020-06-05,emergency,cardiology,I10,2345-7,"
    "101,80,120,36.9,80.5,kg,12345",
    "E10000002,P1234568,1975-02-10,F,45,2020-03-01,2020-03-02,elective,surgery,E11.9,718-7,"
    "13.1,72,118,37.0,65.0,kg,54321",
    "E10000003,P1234569,2000-12-31,F,19,2020-07-01,,urgent,neurology,J18.9,,,90,130,37.4,"
    "58.0,kg,11111",
]


def write_csv(path: Path, rows: list[str], header: str = HEADER, sep: str = ",") -> Path:
    """Write an admissions-shaped CSV (rows written with commas are re-joined with ``sep``)."""
    lines = [header, *rows]
    path.write_text("\n".join(line.replace(",", sep) for line in lines) + "\n", encoding="utf-8")
    return path
