"""Optional narration of a lab summary by a language model, and the guard on what it says.

The model sees only the structured findings (headline, findings with their evidence and
guideline, results as name/value/unit/flag/range, noise, trends): never the document, its rows
as printed, the patient's name or id. Its text is accepted only if every number in it appears
among the numbers of its input (``6.50`` and ``6.5`` are the same number; ``1,234`` is 1234):
a model that computes, rounds or invents a value is refused, and the report goes out with the
deterministic summary alone. Numbers written as words ("six") are not caught.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from medflow.domain.labs import LabResult, LabSummary, Significance
from medflow.errors import MedflowError
from medflow.reports.labs_view import FLAG_LABELS, display_unit, display_value, number, range_text

if TYPE_CHECKING:
    from medflow.platform.llm.base import NarrationProvider

log = logging.getLogger(__name__)

MAX_NARRATION_CHARS = 4000

# No digits in the instructions: every number in the prompt is a fact the model may repeat.
_INSTRUCTIONS = """\
You write a short narrative summary of laboratory results for the treating physician.
Rules:
- Use only the facts listed under DATA. Do not add diagnoses, causes, treatments or advice
  that DATA does not state.
- Every number you write must appear in DATA exactly as given, with its unit. Do not compute
  differences, ratios, percentages or rounded values.
- Start with critical values, then the significant findings, then say briefly what was set
  aside as noise and why.
- Plain prose in short paragraphs; no headings, no lists, no names or identifiers.
"""

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_THOUSANDS = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?")
# Powers of ten inside count units ("10³/µL", "10^9/L", "10*3/uL", UCUM 2.2 section 4.2) are
# part of the unit, however a model spells them, not values.
_UNIT_POWER = re.compile(r"(?<![\d.,])10\s*(?:(?:\^|\*\*?)\s*\d{1,2}|[⁰¹²³⁴⁵⁶⁷⁸⁹]{1,2})(?=\s*/)")


def _result_line(r: LabResult) -> str:
    unit = display_unit(r.unit)
    value = f"{display_value(r)} {unit}".strip()
    parts = [f"{r.name}: {value}", f"flag {r.flag.value} ({FLAG_LABELS[r.flag].lower()})"]
    if range_text(r):
        parts.append(f"reference {range_text(r)}")
    if r.significance is not Significance.NORMAL:
        parts.append(r.significance.value)
    return "- " + ", ".join(parts)


def build_narration_prompt(summary: LabSummary, results: Sequence[LabResult]) -> str:
    """The prompt for a narration, built from structured findings only.

    Args:
        summary: the deterministic summary (headline, findings, noise, trends).
        results: the interpreted results; only name, value, unit, flag, range and significance
            are used (never the printed row).

    Returns:
        Instructions followed by a ``DATA`` section.
    """
    lines = [_INSTRUCTIONS, "DATA", f"Headline: {summary.headline}"]
    if summary.findings:
        lines.append("Findings:")
        for f in summary.findings:
            lines.append(f"- [{f.severity.value}] {f.title}: {f.explanation}")
            for e in f.evidence:
                value = f"{e.value_text} {display_unit(e.unit)}".strip()
                ref = f", reference {e.reference_range}" if e.reference_range else ""
                lines.append(f"  evidence: {e.name} {value} (flag {e.flag.value}{ref})")
            if f.guideline:
                lines.append(f"  guideline: {f.guideline}")
    if summary.warnings:
        lines.append("Caveats (say them; do not call the report normal or complete):")
        lines += [f"- {w}" for w in summary.warnings]
    # Values held for review are implausible as read: no narration may interpret them.
    kept = [r for r in results if r.significance is not Significance.REVIEW]
    abnormal = [r for r in kept if r.significance is not Significance.NORMAL]
    normal = [r for r in kept if r.significance is Significance.NORMAL]
    if abnormal:
        lines += ["Results outside their reference range:", *map(_result_line, abnormal)]
    if normal:
        lines += ["Results within their reference range:", *map(_result_line, normal)]
    if summary.noise:
        lines.append("Set aside as noise:")
        lines += [
            f"- {n.name} {n.value_text} {display_unit(n.unit)}: {n.reason}" for n in summary.noise
        ]
    if summary.trends:
        lines.append("Changes over time:")
        for t in summary.trends:
            unit = display_unit(t.unit)
            points = " then ".join(f"{number(v)} {unit} on {d:%Y-%m-%d}" for d, v in t.points)
            pct = f" ({t.change_pct:+.0f}%)" if t.change_pct is not None else ""
            lines.append(f"- {t.name}: {points}; change {t.change:+g} {unit}{pct}. {t.explanation}")
    return "\n".join(lines) + "\n"


def numbers_in(text: str) -> set[Decimal]:
    """Every number written in ``text``, as values (signs ignored: ``3.5-5.1`` is a range).

    ``1,234`` is one thousand two hundred and thirty-four; ``6,9`` is two numbers; trailing
    zeros do not matter (``Decimal`` compares and hashes by value).
    """
    found: set[Decimal] = set()
    for match in _NUMBER.finditer(_UNIT_POWER.sub(" ", text)):
        token = match.group()
        if _THOUSANDS.fullmatch(token):
            token = token.replace(",", "")
        for part in token.split(","):
            pieces = part.split(".") if part.count(".") > 1 else [part]
            for piece in pieces:
                try:
                    found.add(Decimal(piece))
                except InvalidOperation:  # pragma: no cover - the pattern admits digits only
                    continue
    return found


@dataclass(frozen=True)
class NarrationCheck:
    """The guard's verdict on a narration.

    Attributes:
        accepted: whether the text may be shown.
        reason: why it was refused ("" when accepted).
        unsupported: the numbers it states that its input does not hold.
    """

    accepted: bool
    reason: str = ""
    unsupported: tuple[str, ...] = ()


def check_narration(text: str, prompt: str, max_chars: int = MAX_NARRATION_CHARS) -> NarrationCheck:
    """Accept ``text`` only if it is non-empty, not runaway long, and invents no number.

    Args:
        text: the model's answer.
        prompt: exactly what the model was given.
        max_chars: the longest narration accepted.
    """
    if not text.strip():
        return NarrationCheck(False, "the narration is empty")
    if len(text) > max_chars:
        return NarrationCheck(False, f"the narration is longer than {max_chars} characters")
    allowed = numbers_in(prompt)
    unsupported = sorted(numbers_in(text) - allowed)
    if unsupported:
        shown = tuple(str(n) for n in unsupported)
        return NarrationCheck(
            False, f"it states numbers its input does not hold: {', '.join(shown)}", shown
        )
    return NarrationCheck(True)


def narrate(
    summary: LabSummary, results: Sequence[LabResult], provider: NarrationProvider
) -> str | None:
    """Ask ``provider`` for a narration and keep it only if it passes the guard.

    A provider failure (timeout, refusal, bad reply) or a rejected text returns None and logs
    why (provider name and reason; never the text or the values): narration is optional and
    never holds a report back.

    Returns:
        The accepted narration, stripped, or None.
    """
    prompt = build_narration_prompt(summary, results)
    try:
        text = provider.narrate(prompt)
    except MedflowError as exc:  # every NarrationError; a provider's bugs still propagate
        log.warning(
            "narration by %s failed (%s); the report goes without it",
            provider.name,
            type(exc).__name__,
        )
        return None
    verdict = check_narration(text, prompt)
    if not verdict.accepted:
        reason = verdict.reason.split(":")[0]
        count = f" ({len(verdict.unsupported)} unsupported)" if verdict.unsupported else ""
        log.warning("narration by %s rejected: %s%s", provider.name, reason, count)
        return None
    return text.strip()


def narrate_summary(
    summary: LabSummary, results: Sequence[LabResult], provider: NarrationProvider
) -> LabSummary:
    """``summary`` with ``narrative`` and ``narrative_provider`` set when a narration passes."""
    text = narrate(summary, results, provider)
    if text is None:
        return summary
    return summary.model_copy(update={"narrative": text, "narrative_provider": provider.name})
