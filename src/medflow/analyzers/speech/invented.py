"""Words a recogniser wrote that the recording does not hold: hint loops and unvoiced tails.

Whisper, given vocabulary hints (``hotwords`` or an ``initial_prompt``), sometimes goes on
writing the hint list after the speech: measured on CI (2026-12-06), a 3 s dictation "Start
metformin 500 milligrams twice daily." came back as "... twice daily, acrystalliazide,
levothyroxine, metformin, lisinopril, amlodipine, metformin, lisinopril, amlodipine" -- the
bundled lexicon's first terms, looping; here, on an espeak-ng clip spoken fast, a segment ended
"bioprazole, amlodipine, levothyroxine" with every word timed at the same instant (0 s long) and
a confidence of 0.00-0.04. In a transcript a clinician acts on, an invented drug name is worse
than a missing word, so such words are taken out and named in a warning (nothing disappears
unsaid):

- a **hint loop**: a run of hint words repeated back to back (n words twice, n = 2..4, or one
  word three times), with the words next to it that go on reciting the hint list in its order
  ("levothyroxine" before "metformin, lisinopril, ...": the list's second and third terms);
- an **unvoiced tail**: words at a segment's end packed faster than anyone speaks (each under
  :data:`PACKED_WORD_S`, together under :data:`UNVOICED_S` a word; two such words must also be
  less sure than :data:`UNVOICED_CONFIDENCE`) -- the aligner found no audio for them. Measured
  here: a fast espeak-ng dictation ("... twice daily.") was followed by a segment of 60 words
  ("latine, radaculitis, maltose, ... amlodipine, ... in the beginning of this film") timed
  within 0.24 s, some of them at confidence 0.7, which Whisper's own no-speech rule kept.

Real speech that repeats a drug list back to back, or whose last words take no time, is what
these rules would wrongly remove; the warning quotes the words, so a reader can check the audio.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from medflow.domain.speech import Segment, Word

#: A word this short (seconds) was given no audio by the aligner.
UNVOICED_S = 0.05
#: ...and decoded this unsure.
UNVOICED_CONFIDENCE = 0.2
#: A word of an unvoiced tail lasts less than this (seconds) on its own.
PACKED_WORD_S = 0.1
#: The longest repeated unit looked for in a hint loop (words).
MAX_LOOP_WORDS = 4

_WORD = re.compile(r"[^\W_]+(?:[-'][^\W_]+)*")


@dataclass(frozen=True)
class DroppedRun:
    """Words taken out of a segment.

    Attributes:
        start: the first dropped word's start time, seconds.
        text: the dropped words as written.
        reason: ``"hint loop"`` or ``"unvoiced tail"``.
    """

    start: float
    text: str
    reason: str

    def warning(self) -> str:
        """The transcript warning that names these words."""
        what = (
            "repeated from the vocabulary hints"
            if self.reason == "hint loop"
            else "with no audio under them"
        )
        return (
            f"removed words the recogniser wrote {what} at {self.start:.1f} s: "
            f"{self.text!r}; check the recording there"
        )


def _key(word: Word) -> str:
    """The word's letters, lower case, punctuation dropped ("Metformin," -> "metformin")."""
    return " ".join(_WORD.findall(word.text.lower()))


def _unvoiced(word: Word) -> bool:
    return word.end - word.start < UNVOICED_S and word.confidence < UNVOICED_CONFIDENCE


def _hint_sequence(hints: Sequence[str]) -> tuple[str, ...]:
    """The hints' words in the order they were sent ("twice daily, metformin" gives
    "twice", "daily", "metformin"): an echo recites them in this order."""
    return tuple(w for h in hints for w in _WORD.findall(h.lower()))


def _loop_at(keys: Sequence[str], hinted: frozenset[str]) -> tuple[int, int] | None:
    """The first hint loop in ``keys``: (start, end) of the repeated run, or None."""
    for i in range(len(keys)):
        for n in range(1, MAX_LOOP_WORDS + 1):
            times = 3 if n == 1 else 2
            unit = keys[i : i + n]
            if len(unit) < n or not all(k in hinted for k in unit):
                continue
            if all(keys[i + t * n : i + (t + 1) * n] == unit for t in range(1, times)):
                end = i + times * n
                while keys[end : end + n] == unit:  # more repetitions of the same unit
                    end += n
                return i, end
    return None


def _recited(keys: Sequence[str], order: Sequence[str], at: int, step: int) -> bool:
    """Whether ``keys[at + step]`` continues the hint list from ``keys[at]`` (``step`` -1: it
    is the hint word just before ``keys[at]`` in the list, +1: the one just after)."""
    nxt = at + step
    if not 0 <= nxt < len(keys):
        return False
    places = [i for i, k in enumerate(order) if k == keys[at]]
    return any(0 <= i + step < len(order) and order[i + step] == keys[nxt] for i in places)


def _strip_loop(
    words: list[Word], order: tuple[str, ...], hinted: frozenset[str]
) -> tuple[list[Word], list[Word]]:
    """Words kept and words dropped for the first hint loop, with the hint words recited in
    list order just before and after it, and unvoiced words touching it."""
    keys = [_key(w) for w in words]
    found = _loop_at(keys, hinted)
    if found is None:
        return words, []
    start, end = found
    while start > 0 and (_recited(keys, order, start, -1) or _unvoiced(words[start - 1])):
        start -= 1
    while end < len(words) and (_recited(keys, order, end - 1, 1) or _unvoiced(words[end])):
        end += 1
    return words[:start] + words[end:], words[start:end]


def _strip_unvoiced_tail(words: list[Word]) -> tuple[list[Word], list[Word]]:
    """Words kept and the segment's unvoiced tail: the longest run of words at its end, each
    shorter than :data:`PACKED_WORD_S`, that together average under :data:`UNVOICED_S` a word
    (no one speaks that fast); a run of two must also be unsure (:func:`_unvoiced` each)."""
    best = len(words)
    cut = len(words)
    while cut > 0 and words[cut - 1].end - words[cut - 1].start < PACKED_WORD_S:
        cut -= 1
        run = words[cut:]
        span = run[-1].end - run[0].start
        packed = len(run) >= 2 and span / len(run) < UNVOICED_S
        if packed and (len(run) > 2 or all(_unvoiced(w) for w in run)):
            best = cut
    return words[:best], words[best:]


def strip_invented(
    segments: Sequence[Segment], hints: Sequence[str]
) -> tuple[list[Segment], list[DroppedRun]]:
    """Take hint loops and unvoiced tails out of ``segments`` (see the module docstring).

    Segments without word timings (draft decodes) are returned as they are. A segment left
    with no words is dropped.

    Args:
        segments: one window's segments, in time order.
        hints: the vocabulary hints sent with the window.

    Returns:
        The segments kept (text rebuilt from their words where words were removed) and what
        was removed, in time order.
    """
    order = _hint_sequence(hints)
    hinted = frozenset(order)
    kept: list[Segment] = []
    dropped: list[DroppedRun] = []
    for segment in segments:
        words = list(segment.words)
        if not words:
            kept.append(segment)
            continue
        removed: list[tuple[str, list[Word]]] = []
        while hinted:
            words, run = _strip_loop(words, order, hinted)
            if not run:
                break
            removed.append(("hint loop", run))
        words, tail = _strip_unvoiced_tail(words)
        if tail:
            removed.append(("unvoiced tail", tail))
        if not removed:
            kept.append(segment)
            continue
        for reason, run in removed:
            text = " ".join(w.text for w in run)
            dropped.append(DroppedRun(run[0].start, text, reason))
        if words:
            kept.append(
                segment.model_copy(
                    update={
                        "words": tuple(words),
                        "text": " ".join(w.text for w in words),
                        "start": words[0].start,
                        "end": words[-1].end,
                    }
                )
            )
    return kept, sorted(dropped, key=lambda d: d.start)
