"""De-identification of DICOM files: DICOM PS3.15 Annex E Basic Profile with the site's options.

Every element is looked up in Table E.1-1 (``profile.py``) and removed (X), blanked (Z), given a
dummy value (D), kept (K), has its UID replaced (U) or its date shifted (C, the Modified Dates
option); private elements are removed (the Basic Profile's "private attributes: X"), nested
sequences are walked. UIDs are replaced by ``2.25.<decimal>`` UIDs (PS3.5 B.2, ISO/IEC 9834-8)
derived with HMAC-SHA-256 from the site secret, so the same original UID maps to the same new UID
in every file and every run with the same secret: a study stays a study, and a series a series.
Burned-in text is found with OCR and blanked when the options ask for it (Clean Pixel Data).
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from medflow.analyzers.imaging.burned_in import Box, TextFinder, load_rules, mask_boxes
from medflow.analyzers.imaging.dicomdir import capture_links, rewrite_offsets
from medflow.analyzers.imaging.pixel_clean import Header, PixelRules, load_pixel_rules, plan
from medflow.analyzers.imaging.profile import Action, load_profile
from medflow.analyzers.imaging.raster import encode_clean
from medflow.analyzers.imaging.read import (
    ReadLimits,
    Source,
    decode_frames,
    quiet_pydicom,
    read_dicom,
    read_raster,
    sniff_kind,
)
from medflow.analyzers.imaging.render import display_frame
from medflow.analyzers.imaging.repair import drop_unwritable
from medflow.domain.imaging import DeidOptions, DeidSummary, PixelRegion

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

UID_ROOT = "2.25."
_PATIENT_ID, _PATIENT_NAME = 0x00100020, 0x00100010
_DUMMY_TEXT = "REMOVED"
_DUMMY_BY_VR: dict[str, Any] = {
    "DA": "19000101",
    "DT": "19000101000000",
    "TM": "000000",
    "AS": "000D",
    "IS": "0",
    "DS": "0",
    "US": 0,
    "SS": 0,
    "UL": 0,
    "SL": 0,
    "FL": 0.0,
    "FD": 0.0,
    "OB": b"\x00\x00",
    "OW": b"\x00\x00",
    "UN": b"\x00\x00",
}
_MAX_LEN = {"SH": 16, "CS": 16, "AE": 16}
_CONTENT_SEQUENCE = 0x0040A730
# Content Sequence is D in the Basic Profile: without the Clean Structured Content option its
# content must not survive. The tree is kept (codes, structure, references with remapped UIDs)
# while every free value an observer typed or a device stamped is replaced: Text Value,
# DateTime, Date, Time (PS3.3 C.17.3 / Table C.18.8-1 value attributes).
_CONTENT_VALUE_TAGS = (0x0040A160, 0x0040A120, 0x0040A121, 0x0040A122)


@lru_cache(maxsize=1)
def _method_codes() -> dict[str, tuple[str, str]]:
    text = (
        resources.files("medflow.analyzers.imaging")
        .joinpath("data/deid_method_codes.csv")
        .read_text(encoding="utf-8")
    )
    rows = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    return {r["option"]: (r["code"], r["meaning"]) for r in rows}


class UIDMapper:
    """Deterministic UID replacement: same secret + same UID -> same new UID, never the original."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the de-identification secret must be at least 16 bytes")
        self._secret = secret
        self._cache: dict[str, str] = {}

    def digest(self, purpose: str, value: str) -> bytes:
        """HMAC-SHA-256 of ``value`` under the secret, separated by ``purpose``."""
        return hmac.new(self._secret, f"{purpose}\x00{value}".encode(), hashlib.sha256).digest()

    def map(self, uid: str) -> str:
        """The replacement for one UID (at most 44 characters: ``2.25.`` + a 128-bit integer)."""
        uid = uid.strip().rstrip("\x00")
        if not uid:
            return uid
        new = self._cache.get(uid)
        if new is None:
            new = UID_ROOT + str(int.from_bytes(self.digest("uid", uid)[:16], "big"))
            self._cache[uid] = new
        return new


@dataclass
class _Counts:
    removed: int = 0
    blanked: int = 0
    replaced: int = 0
    uids: int = 0
    shifted: int = 0
    private: int = 0
    regions: list[PixelRegion] = field(default_factory=list)
    ocr_ran: bool = False
    review: list[str] = field(default_factory=list)
    burned_in: str | None = None


def _complete_file_meta(ds: Dataset) -> None:
    """Give a data set read without its preamble or File Meta Information a proper one
    (PS3.10 7.1): a 128-byte preamble, the SOP Class and Instance UIDs and the transfer syntax
    it is written in."""
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import (
        PYDICOM_IMPLEMENTATION_UID,
        ExplicitVRBigEndian,
        ExplicitVRLittleEndian,
        ImplicitVRLittleEndian,
    )

    if getattr(ds, "preamble", None) is None:
        ds.preamble = b"\x00" * 128
    meta = getattr(ds, "file_meta", None)
    if meta is None:
        ds.file_meta = meta = FileMetaDataset()
    if not meta.get("TransferSyntaxUID"):
        if ds.original_encoding[0] is True or getattr(ds, "is_implicit_VR", None):
            meta.TransferSyntaxUID = ImplicitVRLittleEndian
        elif ds.original_encoding[1] is False:
            meta.TransferSyntaxUID = ExplicitVRBigEndian
        else:
            meta.TransferSyntaxUID = ExplicitVRLittleEndian
    if not meta.get("MediaStorageSOPClassUID") and ds.get("SOPClassUID"):
        meta.MediaStorageSOPClassUID = ds.SOPClassUID
    if not meta.get("MediaStorageSOPInstanceUID") and ds.get("SOPInstanceUID"):
        meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    if "FileMetaInformationVersion" not in meta:
        meta.FileMetaInformationVersion = b"\x00\x01"
    if not meta.get("ImplementationClassUID"):
        meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID


def _encode(ds: Dataset) -> bytes:
    buf = io.BytesIO()
    ds.save_as(buf)
    return buf.getvalue()


def _shift_da(value: str, days: int) -> str | None:
    text = value.strip()
    if len(text) < 8 or not text[:8].isdigit():
        return None
    try:
        day = date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return None
    return (day + timedelta(days=days)).strftime("%Y%m%d") + text[8:]


_WORD_SIZES = {"OW": 2, "OF": 4, "OL": 4, "OD": 8, "OV": 8}


def _to_little_endian(ds: Dataset) -> None:
    """Byte-swap the raw words of a big-endian data set (LUT data and the like) in place.

    pydicom keeps OW/OF/OL/OD/OV values as the bytes read; writing them little-endian after the
    pixels are re-encoded needs them swapped (PS3.5 7.3). Pixel data is re-encoded separately.
    """
    import numpy as np
    from pydicom.uid import ExplicitVRLittleEndian

    if getattr(ds, "file_meta", None) is not None:
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    for elem in ds:
        if elem.VR == "SQ":
            for item in elem.value or []:
                _to_little_endian(item)
        elif elem.VR in _WORD_SIZES and elem.tag != 0x7FE00010 and elem.value:
            size = _WORD_SIZES[elem.VR]
            elem.value = np.frombuffer(elem.value, f">u{size}").astype(f"<u{size}").tobytes()


class Deidentifier:
    """Applies the confidentiality profile to DICOM data sets; holds the UID map for a run.

    Args:
        secret: the site secret (at least 16 bytes); the same secret gives the same UIDs, patient
            pseudonyms and date offsets in every run.
        options: the Annex E options the site chose.
        limits: read limits for :meth:`deidentify_file`.
        text_finder: the OCR used for burned-in text; built on first need when None.
        pixel_rules: the region rules, text strips and OCR thresholds for burned-in text
            (default ``data/pixel_rules.yaml``; :func:`pixel_clean.pixel_rules_from` reads a
            site's own, with its device signatures).
    """

    def __init__(
        self,
        secret: bytes,
        options: DeidOptions | None = None,
        limits: ReadLimits | None = None,
        text_finder: TextFinder | None = None,
        pixel_rules: PixelRules | None = None,
    ) -> None:
        self.options = options or DeidOptions()
        self.limits = limits or ReadLimits()
        self.uids = UIDMapper(secret)
        self._exact, self._masked = load_profile().resolved(self.options)
        self._finder = text_finder
        self._burned_in_modalities = load_rules().modalities
        self.pixel_rules = pixel_rules or load_pixel_rules()

    # -- public API -----------------------------------------------------------------------

    def pseudonym(self, patient_id: str) -> str:
        """The patient pseudonym written into Patient ID / Patient's Name (``MF-`` + 16 hex)."""
        return "MF-" + self.uids.digest("patient", patient_id).hex()[:16].upper()

    def date_shift_days(self, patient_id: str) -> int:
        """The per-patient date offset, in ``[-max_shift_days, -1]`` days."""
        raw = int.from_bytes(self.uids.digest("dateshift", patient_id)[:4], "big")
        return -(1 + raw % self.options.max_shift_days)

    def deidentify_file(self, src: Source, name: str) -> tuple[bytes, DeidSummary]:
        """Read, de-identify and re-encode one DICOM file (or PNG / JPEG image).

        Returns:
            The de-identified file's bytes and what was done.

        Raises:
            InputError subclasses from :func:`read.read_dicom` (not DICOM, truncated, too large),
            and from pixel decoding when burned-in text must be checked.
        """
        if sniff_kind(src) in ("png", "jpeg"):
            return self.deidentify_raster(src, name)
        repairs: list[str] = []
        ds = read_dicom(src, name, self.limits, repairs=repairs)
        with quiet_pydicom():
            links = capture_links(ds)
        summary = self.deidentify_dataset(ds, name)
        with quiet_pydicom():
            _complete_file_meta(ds)
            try:
                data = _encode(ds)
            except Exception:  # a value pydicom cannot encode: drop it, report, write the rest
                drop_unwritable(ds, repairs)
                data = _encode(ds)
        if repairs:
            summary = summary.model_copy(update={"repairs": (*repairs, *summary.repairs)})
        return (rewrite_offsets(data, links) if links else data), summary

    def deidentify_raster(self, src: Source, name: str) -> tuple[bytes, DeidSummary]:
        """A PNG / JPEG copy without any metadata and, unless ``burned_in_text`` is off, with
        the text OCR finds blanked: a raster has no header saying whether text is burned in, so
        "flagged" reads every one.

        Only the pixels are re-encoded (:func:`raster.encode_clean`): no PNG ancillary chunk
        (tEXt, zTXt, iTXt, eXIf, iCCP, tIME...) and no JPEG APPn (JFIF, Exif, XMP, ICC) or COM
        segment survives.

        Returns:
            The new file in the same format (JPEG re-encoded at quality 95) and the summary.

        Raises:
            ImageTooLargeError, CorruptFileError: from :func:`read.read_raster`.
        """
        kind = sniff_kind(src)
        frame = read_raster(src, name, self.limits)[0]
        counts = _Counts()
        if self.options.burned_in_text != "off":
            shown = frame if frame.dtype.itemsize == 1 else (frame >> 8).astype("uint8")
            boxes = self._plan_frame(shown, None, 0, counts)
            if boxes:
                frame = mask_boxes(frame, boxes, 0)
        return encode_clean(frame, kind), DeidSummary(
            source=name,
            masked_regions=tuple(counts.regions),
            ocr_ran=counts.ocr_ran,
            burned_in_annotation=counts.burned_in,
            needs_review=bool(counts.review),
            review_reasons=tuple(counts.review),
        )

    def deidentify_dataset(self, ds: Dataset, name: str) -> DeidSummary:
        """De-identify a data set in place (and its file meta UIDs).

        Raises:
            InputError subclasses when burned-in text must be checked and the pixels cannot be
            decoded (no codec, truncated pixel data).
        """
        opts = self.options
        with quiet_pydicom():
            patient_id = str(ds.get("PatientID", "") or "")
        shift = (
            self.date_shift_days(patient_id) if opts.shift_dates and not opts.retain_dates else None
        )
        counts = _Counts()
        with quiet_pydicom():
            modality = str(ds.get("Modality", "") or "").upper()
            burned_in = str(ds.get("BurnedInAnnotation", "") or "").upper()
            self._walk(ds, counts, shift, self.pseudonym(patient_id))
            meta = getattr(ds, "file_meta", None)
            if meta is not None:  # the File Meta group: UIDs, AE titles, private information
                self._walk(meta, counts, shift, self.pseudonym(patient_id))
            if self._wants_ocr(ds, modality, burned_in):
                self._clean_pixels(ds, name, counts)
            self._stamp(ds, counts, shift)
        return DeidSummary(
            source=name,
            removed=counts.removed,
            blanked=counts.blanked,
            replaced=counts.replaced,
            uids_remapped=counts.uids,
            dates_shifted=counts.shifted,
            private_removed=counts.private,
            date_shift_days=shift,
            masked_regions=tuple(counts.regions),
            ocr_ran=counts.ocr_ran,
            burned_in_annotation=counts.burned_in,
            needs_review=bool(counts.review),
            review_reasons=tuple(counts.review),
        )

    # -- the tag walk ---------------------------------------------------------------------

    def _action(self, tag: int) -> Action | None:
        action = self._exact.get(tag)
        if action is None and (tag >> 24) in (0x50, 0x60):
            for mask, value, masked_action in self._masked:
                if tag & mask == value:
                    return masked_action
        return action

    def _walk(
        self,
        ds: Dataset,
        counts: _Counts,
        shift: int | None,
        pseudonym: str,
        in_content: bool = False,
    ) -> None:
        for elem in list(ds):
            tag = int(elem.tag)
            if elem.tag.is_private:
                del ds[tag]
                counts.private += 1
                continue
            action = self._action(tag)
            if in_content and tag in _CONTENT_VALUE_TAGS and action is None:
                action = Action.DUMMY
            if action is None or action is Action.KEEP:
                if elem.VR == "SQ" and elem.value:
                    for item in elem.value:
                        self._walk(item, counts, shift, pseudonym, in_content)
                continue
            self._apply(ds, elem, action, counts, shift, pseudonym, in_content)

    def _apply(
        self,
        ds: Dataset,
        elem: Any,
        action: Action,
        counts: _Counts,
        shift: int | None,
        pseudonym: str,
        in_content: bool = False,
    ) -> None:
        tag, vr = int(elem.tag), elem.VR
        if action is Action.REMOVE:
            del ds[tag]
            counts.removed += 1
        elif vr == "SQ" and action in (Action.DUMMY, Action.ITEMS, Action.UID):
            nested = in_content or (tag == _CONTENT_SEQUENCE and action is Action.DUMMY)
            for item in elem.value or []:
                self._walk(item, counts, shift, pseudonym, nested)
        elif action is Action.BLANK:
            if tag in (_PATIENT_ID, _PATIENT_NAME) and self.options.pseudonymize_patient:
                elem.value = pseudonym
                counts.replaced += 1
            else:
                elem.value = [] if vr == "SQ" else None
                counts.blanked += 1
        elif action is Action.UID or (action is Action.DUMMY and vr == "UI"):
            self._map_uids(elem, counts)
        elif action is Action.DUMMY:
            elem.value = self._dummy(vr)
            counts.replaced += 1
        elif action is Action.SHIFT_DATE:
            self._shift(ds, elem, shift or 0, counts)

    def _map_uids(self, elem: Any, counts: _Counts) -> None:
        value = elem.value
        if not value:
            return
        if isinstance(value, str):
            elem.value = self.uids.map(value)
        else:
            elem.value = [self.uids.map(str(v)) for v in value]
        counts.uids += 1

    @staticmethod
    def _dummy(vr: str) -> Any:
        if vr in _DUMMY_BY_VR:
            return _DUMMY_BY_VR[vr]
        return _DUMMY_TEXT[: _MAX_LEN.get(vr, 64)]

    @staticmethod
    def _shift(ds: Dataset, elem: Any, days: int, counts: _Counts) -> None:
        if elem.VR not in ("DA", "DT") or not elem.value:
            return  # times and offsets carry no date: the Modified Dates option keeps them
        values = [elem.value] if isinstance(elem.value, str) else list(elem.value)
        shifted = [_shift_da(str(v), days) for v in values]
        if any(s is None for s in shifted):
            del ds[int(elem.tag)]  # an unparseable date cannot be shifted safely: remove it
            counts.removed += 1
            return
        elem.value = shifted[0] if len(shifted) == 1 else shifted
        counts.shifted += 1

    # -- pixels and the de-identification record ------------------------------------------

    def _wants_ocr(self, ds: Dataset, modality: str, burned_in: str) -> bool:
        mode = self.options.burned_in_text
        if mode == "off" or "PixelData" not in ds:
            return False
        if mode == "all":
            return True
        return burned_in == "YES" or modality in self._burned_in_modalities

    def _plan_frame(
        self, shown: Any, header: Header | None, index: int, counts: _Counts
    ) -> list[Box]:
        """Plan one display frame's masks (:func:`pixel_clean.plan`); record them in counts."""
        if self._finder is None:
            self._finder = TextFinder()
        result = plan(shown, header, self.pixel_rules, self._finder)
        counts.ocr_ran = counts.ocr_ran or result.ocr_ran
        counts.regions.extend(
            PixelRegion(frame=index, left=b[0], top=b[1], width=b[2], height=b[3], reason=why)
            for b, why in result.boxes
        )
        counts.review.extend(
            f"frame {index}: {r}" if header is not None else r for r in result.review
        )
        # Burned In Annotation (PS3.3 C.7.6.1.1.5) of the copy: NO only when nothing text-like
        # is left that a person has not ruled out.
        counts.burned_in = "YES" if counts.review else "NO"
        return [b for b, _ in result.boxes]

    def _clean_pixels(self, ds: Dataset, name: str, counts: _Counts) -> None:
        """Blank burned-in text on every frame (Clean Pixel Data Option): the declared image
        regions and text strips first, then OCR (:mod:`pixel_clean`).

        A cine loop carries the same annotation on each frame, so a long one is read on its
        first, middle and last frames and the union of their boxes is blanked on all frames:
        OCR of hundreds of frames would take minutes and find nothing new.
        """
        import numpy as np

        frames = decode_frames(ds, name)
        header = Header.of(ds)
        n = len(frames)
        sampled = range(n) if n <= 3 else sorted({0, n // 2, n - 1})
        boxes: set[Box] = set()
        for index in sampled:
            boxes.update(self._plan_frame(display_frame(ds, frames[index]), header, index, counts))
        cleaned = [
            mask_boxes(frame, sorted(boxes), 0 if frame.ndim == 3 else int(frame.min()))
            for frame in frames
        ]
        if any(not np.array_equal(a, b) for a, b in zip(cleaned, frames, strict=True)):
            if ds.original_encoding[1] is False:
                _to_little_endian(ds)
            arr = np.stack(cleaned) if n > 1 else cleaned[0]
            colour = arr.ndim == (4 if n > 1 else 3)
            photometric = "RGB" if colour else str(ds.PhotometricInterpretation)
            ds.set_pixel_data(
                arr, photometric, int(ds.get("BitsStored", 8)), generate_instance_uid=False
            )
            ds.set_original_encoding(False, True)  # written Explicit VR Little Endian
        ds.BurnedInAnnotation = counts.burned_in or "NO"

    def _stamp(self, ds: Dataset, counts: _Counts, shift: int | None) -> None:
        from pydicom.dataset import Dataset as PydicomDataset
        from pydicom.sequence import Sequence

        codes = _method_codes()
        applied = ["basic"] + [
            opt
            for opt in (
                "retain_device_identity",
                "retain_patient_characteristics",
                "retain_uids",
                "retain_institution_identity",
                "retain_dates",
            )
            if getattr(self.options, opt)
        ]
        if shift is not None:
            applied.append("shift_dates")
        if counts.ocr_ran:
            applied.append("clean_pixels")
        items = []
        for opt in applied:
            item = PydicomDataset()
            item.CodeValue, item.CodeMeaning = codes[opt]
            item.CodingSchemeDesignator = "DCM"
            items.append(item)
        ds.PatientIdentityRemoved = "YES"
        ds.DeidentificationMethod = "medflow: DICOM PS3.15 Annex E Basic Profile"
        ds.DeidentificationMethodCodeSequence = Sequence(items)
        if self.options.retain_dates:
            ds.LongitudinalTemporalInformationModified = "UNMODIFIED"
        else:
            ds.LongitudinalTemporalInformationModified = "MODIFIED" if shift else "REMOVED"
