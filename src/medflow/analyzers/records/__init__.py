"""The records analyzer: declarative rules, cleaning, anomaly detection and quarantine for CSVs.

Typical use::

    from medflow.analyzers.records import RecordsAnalyzer, builtin_rules, check_file

    result = check_file(RecordsAnalyzer(builtin_rules("admissions")), "admissions.csv", "out/")
    result.report.decision, result.files["curated_parquet"]

``check_file`` runs three phases, each usable alone (the records pipeline runs them as separate
steps): :func:`initiate` (readable? which rules?) -> :func:`transform` (clean, validate, curated
and quarantined rows) -> :func:`analyze` (outliers, the insight report).
"""

from medflow.analyzers.records.analyzer import CheckOptions, RecordsAnalyzer, Validation
from medflow.analyzers.records.check import CheckResult, check_file
from medflow.analyzers.records.clean import CleaningOptions
from medflow.analyzers.records.infer import infer_rules
from medflow.analyzers.records.ingest import CsvFormat, ReadLimits, inspect_csv
from medflow.analyzers.records.insights import Insights, analyze
from medflow.analyzers.records.outputs import Transformed, rule_stats, transform
from medflow.analyzers.records.plan import Plan, initiate
from medflow.analyzers.records.report import Decision, InsightReport, SampleAnomaly
from medflow.analyzers.records.rules import RuleSet, builtin_rules, dump_rules, load_rules

__all__ = [
    "CheckOptions",
    "CheckResult",
    "CleaningOptions",
    "CsvFormat",
    "Decision",
    "InsightReport",
    "Insights",
    "Plan",
    "ReadLimits",
    "RecordsAnalyzer",
    "RuleSet",
    "SampleAnomaly",
    "Transformed",
    "Validation",
    "analyze",
    "builtin_rules",
    "check_file",
    "dump_rules",
    "infer_rules",
    "initiate",
    "inspect_csv",
    "load_rules",
    "rule_stats",
    "transform",
]
