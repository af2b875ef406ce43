"""Words the recogniser wrote that the recording does not hold are taken out and named.

The segments are Whisper's output as measured (see ``medflow.analyzers.speech.invented``):
word texts, times and confidences as faster-whisper gave them, or as a loop would give them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest
from speech_testkit import EnergyEngine

from medflow.analyzers.speech import Transcriber
from medflow.analyzers.speech.audio import FloatArray
from medflow.analyzers.speech.invented import strip_invented
from medflow.domain.speech import Segment, Word

#: The bundled lexicon's first terms, in the order the transcriber sends them.
HINTS = (
    "atorvastatin",
    "levothyroxine",
    "metformin",
    "lisinopril",
    "amlodipine",
    "metoprolol",
    "once daily",
    "twice daily",
)


def _segment(words: Sequence[tuple[str, float, float, float]]) -> Segment:
    built = tuple(Word(text=t, start=s, end=e, confidence=c) for t, s, e, c in words)
    return Segment(
        text=" ".join(w.text for w in built),
        start=built[0].start,
        end=built[-1].end,
        words=built,
        avg_logprob=-0.8,
        no_speech_prob=0.1,
    )


SPOKEN = [
    ("tarte", 0.0, 0.34, 0.17),
    ("metformin", 0.34, 1.0, 0.28),
    ("500", 1.0, 1.6, 0.6),
    ("ml,", 1.6, 2.3, 0.4),
    ("twice", 2.34, 2.84, 0.72),
    ("daily,", 2.84, 3.3, 0.92),
]
# What CI's decode wrote after the speech: the hint list from its second term, then a loop. Its
# timings were not recorded; these give each word a plausible 0.3 s and a middling confidence, so
# the rule that catches them is the loop, not the timing.
ECHO = [
    ("levothyroxine,", 3.3, 3.6, 0.5),
    ("metformin,", 3.6, 3.9, 0.6),
    ("lisinopril,", 3.9, 4.2, 0.6),
    ("amlodipine,", 4.2, 4.5, 0.6),
    ("metformin,", 4.5, 4.8, 0.7),
    ("lisinopril,", 4.8, 5.1, 0.7),
    ("amlodipine", 5.1, 5.4, 0.7),
]


def test_a_hint_list_recited_in_a_loop_after_the_speech_is_removed_and_named() -> None:
    kept, dropped = strip_invented([_segment(SPOKEN + ECHO)], HINTS)
    assert kept[0].text == "tarte metformin 500 ml, twice daily,"
    assert [w.text for w in kept[0].words][-1] == "daily,"
    assert kept[0].end == pytest.approx(3.3)
    assert len(dropped) == 1 and dropped[0].reason == "hint loop"
    assert dropped[0].start == pytest.approx(3.3)
    assert dropped[0].text.startswith("levothyroxine, metformin,")
    assert "repeated from the vocabulary hints at 3.3 s" in dropped[0].warning()


def test_words_with_no_audio_under_them_at_a_segment_end_are_removed() -> None:
    # Measured here on an espeak-ng clip (voice en, 230 words a minute): three hint words timed
    # at one instant, confidence 0.00-0.04, after "white saline,".
    spoken = [
        ("500mg,", 0.74, 1.56, 0.68),
        ("white", 1.84, 1.92, 0.05),
        ("saline,", 1.92, 2.24, 0.1),
    ]
    tail = [("bioprazole,", 2.24, 2.26, 0.04), ("amlodipine,", 2.26, 2.26, 0.0)]
    kept, dropped = strip_invented([_segment(spoken + tail)], HINTS)
    assert kept[0].text == "500mg, white saline,"
    assert [(d.reason, d.text) for d in dropped] == [("unvoiced tail", "bioprazole, amlodipine,")]


def test_a_segment_of_words_packed_into_an_instant_is_dropped_even_where_confident() -> None:
    # Measured here (espeak-ng, 210 words a minute): after "start metformin 500mg twice daily."
    # Whisper wrote 60 more words timed within 0.24 s; Whisper's no-speech rule kept them
    # (no_speech 0.54). The first of them as they came:
    packed = [
        ("latine,", 2.38, 2.4, 0.0),
        ("radaculitis,", 2.4, 2.4, 0.0),
        ("maltose,", 2.48, 2.48, 0.01),
        ("mitopropyl,", 2.48, 2.48, 0.22),
        ("amlodipine,", 2.48, 2.5, 0.63),
        ("nihtopropyl,", 2.5, 2.5, 0.71),
        ("amlodipine,", 2.5, 2.5, 0.75),
        ("of", 2.56, 2.62, 0.23),
        ("moneyed", 2.62, 2.62, 0.0),
    ]
    spoken = _segment([("twice", 1.76, 2.1, 0.38), ("daily.", 2.1, 2.38, 0.7)])
    kept, dropped = strip_invented([spoken, _segment(packed)], HINTS)
    assert kept == [spoken]
    assert dropped[0].reason == "unvoiced tail"
    assert dropped[0].text.startswith("latine, radaculitis,")
    assert dropped[0].text.endswith("of moneyed")


def test_a_medication_list_spoken_once_is_kept_even_in_the_hint_order() -> None:
    spoken = [
        ("Continue", 0.0, 0.5, 0.9),
        ("levothyroxine,", 0.5, 1.3, 0.8),
        ("metformin,", 1.4, 2.0, 0.85),
        ("lisinopril", 2.1, 2.8, 0.8),
        ("and", 2.8, 3.0, 0.9),
        ("amlodipine.", 3.0, 3.7, 0.8),
    ]
    segment = _segment(spoken)
    kept, dropped = strip_invented([segment], HINTS)
    assert kept == [segment] and dropped == []


def test_a_last_short_word_alone_is_not_taken_for_an_invented_tail() -> None:
    segment = _segment([("BP", 0.0, 0.4, 0.9), ("140", 0.4, 0.9, 0.9), ("over", 0.9, 0.9, 0.1)])
    assert strip_invented([segment], HINTS) == ([segment], [])


def test_two_quick_words_the_model_is_sure_of_are_kept_at_a_segment_end() -> None:
    # aligned tightly at the end of a window, but decoded with confidence: no invention
    segment = _segment([("BP", 0.0, 0.4, 0.9), ("140", 2.0, 2.04, 0.9), ("over", 2.04, 2.08, 0.9)])
    assert strip_invented([segment], HINTS) == ([segment], [])


def test_spoken_words_before_a_loop_that_do_not_recite_the_list_are_kept() -> None:
    # "twice daily" is a hint too, but it is not the list's term before "metformin".
    spoken = [("Metformin", 0.0, 0.6, 0.9), ("twice", 0.6, 1.0, 0.9), ("daily,", 1.0, 1.4, 0.9)]
    loop = [("metformin,", 1.5, 1.8, 0.5), ("lisinopril,", 1.8, 2.1, 0.5)] * 2
    kept, dropped = strip_invented([_segment(spoken + loop)], HINTS)
    assert kept[0].text == "Metformin twice daily,"
    assert dropped[0].text == "metformin, lisinopril, metformin, lisinopril,"


def test_a_segment_of_nothing_but_a_loop_is_dropped_whole() -> None:
    loop = _segment([("metformin,", 0.0, 0.3, 0.5)] * 3)
    kept, dropped = strip_invented([_segment(SPOKEN), loop], HINTS)
    assert [s.text for s in kept] == [_segment(SPOKEN).text]
    assert dropped[0].text == "metformin, metformin, metformin,"


def test_without_hints_a_repeated_word_is_left_to_the_reader() -> None:
    segment = _segment([("no,", 0.0, 0.3, 0.9), ("no,", 0.3, 0.6, 0.9), ("no.", 0.6, 0.9, 0.9)])
    assert strip_invented([segment], ()) == ([segment], [])


class _LoopingEngine(EnergyEngine):
    """Hears the tones, then writes the CI echo after them (as Whisper did)."""

    def transcribe(
        self,
        samples: FloatArray,
        *,
        hints: Sequence[str] = (),
        draft: bool = False,
        on_segment: Callable[[float], None] | None = None,
        language: str | None = None,
    ) -> list[Segment]:
        heard = super().transcribe(
            samples, hints=hints, draft=draft, on_segment=on_segment, language=language
        )
        if draft or not heard:
            return heard
        end = heard[-1].end
        echo = [(t, end + s - 3.3, end + e - 3.3, c) for t, s, e, c in ECHO]
        return [*heard, _segment(echo)]


def test_the_transcript_leaves_the_echo_out_and_says_so(
    sox_audio: Callable[[str, Sequence[str]], bytes],
) -> None:
    audio = sox_audio("t.wav", ["synth", "1", "sine", "440", "pad", "0.5", "0.5"])
    result = Transcriber(_LoopingEngine(), lexicon=HINTS).transcribe(audio, "t.wav")
    assert result.text == "tone"
    assert [w.text for w in result.words] == ["tone"]
    assert len(result.warnings) == 1
    assert "levothyroxine, metformin," in result.warnings[0]
    assert "check the recording" in result.warnings[0]
