"""Clinical entity extraction, offline, in AWS Comprehend Medical's vocabulary.

Public API::

    extractor = ClinicalExtractor()            # loads vocabularies and pipeline once
    result = extractor.extract(text)           # -> medflow.domain.clinical.ClinicalResult
    to_comprehend(result)                      # -> DetectEntitiesV2-shaped dict
    deidentify(text, mode="redact")            # -> DeidResult (text, offset map)
    patient_summary(result, text)              # -> PatientSummary (plain language)

FHIR: ``medflow.reports.fhir_clinical.clinical_bundle(result, patient_id, text)``.

Heavy libraries (spaCy, medspaCy, the drug dictionary, ICD-10-CM) load only when an extractor
is built.
"""

from medflow.analyzers.clinical.comprehend import to_comprehend
from medflow.analyzers.clinical.deid import DeidResult, Replacement, deidentify
from medflow.analyzers.clinical.extractor import MODEL_VERSION, ClinicalExtractor
from medflow.analyzers.clinical.language import decode_text
from medflow.analyzers.clinical.summary import PatientSummary, patient_summary

__all__ = [
    "MODEL_VERSION",
    "ClinicalExtractor",
    "DeidResult",
    "PatientSummary",
    "Replacement",
    "decode_text",
    "deidentify",
    "patient_summary",
    "to_comprehend",
]
