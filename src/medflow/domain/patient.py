"""Who a document is about, and who should hear of it."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Sex(StrEnum):
    """Administrative sex as reference ranges use it (FHIR AdministrativeGender subset)."""

    MALE = "male"
    FEMALE = "female"
    UNKNOWN = "unknown"


class PatientInfo(BaseModel):
    """The patient a document belongs to, as given at upload.

    Attributes:
        patient_id: the hospital's identifier (MRN) for the patient.
        name: the patient's name, for display only; never logged.
        sex: selects sex-specific reference ranges.
        age: age in years at collection; selects age-specific ranges.
        doctor_email: the assigned doctor, who receives the summary.
        patient_email: the patient, who may receive a plain-language summary.
    """

    model_config = ConfigDict(frozen=True)

    patient_id: str = Field(default="unknown", max_length=128)
    name: str = Field(default="", max_length=256)
    sex: Sex = Sex.UNKNOWN
    age: float | None = Field(default=None, ge=0, le=130)
    doctor_email: str | None = None
    patient_email: str | None = None
