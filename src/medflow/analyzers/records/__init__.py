"""The records analyzer: declarative rules, cleaning, anomaly detection and quarantine for CSVs.

Typical use::

    from medflow.analyzers.records import RecordsAnalyzer, builtin_rules, check_file

    result = check_file(RecordsAnalyzer(builtin_rules("admissions")), "admissions.csv", "out/")
    result.report.decision, result.files["curated_parquet"]
"""

from medflow.analyzers.records.analyzer import CheckOptions, RecordsAnalyzer, Validation
from medflow.analyzers.records.clean import CleaningOptions
from medflow.analyzers.records.infer import infer_rules
from medflow.analyzers.records.ingest import CsvFormat, ReadLimits, inspect_csv
from medflow.analyzers.records.outputs import CheckResult, check_file, rule_stats
from medflow.analyzers.records.report import Decision, InsightReport, SampleAnomaly
from medflow.analyzers.records.rules import RuleSet, builtin_rules, dump_rules, load_rules

__all__ = [
    "CheckOptions",
    "CheckResult",
    "CleaningOptions",
    "CsvFormat",
    "Decision",
    "InsightReport",
    "ReadLimits",
    "RecordsAnalyzer",
    "RuleSet",
    "SampleAnomaly",
    "Validation",
    "builtin_rules",
    "check_file",
    "dump_rules",
    "infer_rules",
    "inspect_csv",
    "load_rules",
    "rule_stats",
]
