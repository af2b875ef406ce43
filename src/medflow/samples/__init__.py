"""Bundled sample inputs for ``medflow demo``: synthetic, no real patient data.

``labs/``: lab reports made by ``tests/fixtures/labs/generate.py`` (seed 1) in six layouts,
one of them an image-only scan, plus ``truncated.pdf``, a deliberately broken file that the
demo shows being quarantined with its reason.

``documents/``: synthetic clinical notes (a discharge summary, a referral letter, and a note in
Spanish that the documents pipeline quarantines: it extracts English only).

``dictation/``: two short dictations spoken by espeak-ng (MP3 and Ogg Vorbis, 16 kHz mono), made
by ``tests/fixtures/audio/make_samples.py``; ``dictations.json`` holds the reference transcripts.
"""
