"""De-identification behaviour: UID consistency, dates, options, private tags, the method record."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from medflow.analyzers.imaging.deid import Deidentifier, UIDMapper
from medflow.analyzers.imaging.profile import Action, load_profile
from medflow.domain.imaging import DeidOptions

SECRET = b"unit-test-secret-0123456789abcdef"


def _run(ds: Dataset, options: DeidOptions | None = None, secret: bytes = SECRET) -> Dataset:
    deid = Deidentifier(secret, options or DeidOptions(burned_in_text="off"))
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    data, _ = deid.deidentify_file(buf.getvalue(), "x.dcm")
    return pydicom.dcmread(io.BytesIO(data))


def test_profile_table_loads_with_its_source_actions() -> None:
    profile = load_profile()
    assert len(profile.exact) > 400
    assert profile.exact[0x00100010].name == "Patient's Name"
    assert profile.exact[0x00100010].action == "Z"
    assert profile.rule_for(0x60003000) is not None  # Overlay Data, repeating group 60xx
    assert profile.rule_for(0x50020010) is not None  # Curve Data 50xx,xxxx


def test_compound_actions_resolve_to_a_conformant_choice() -> None:
    exact, _ = load_profile().resolved(DeidOptions())
    assert exact[0x00080080] is Action.BLANK  # Institution Name X/Z/D
    assert exact[0x00181030] is Action.DUMMY  # Protocol Name X/D
    assert exact[0x00082112] is Action.ITEMS  # Source Image Sequence X/Z/U*


def test_uids_map_consistently_within_a_study(fx: Any) -> None:
    first = fx.ct_image(seed=1)
    second = fx.ct_image(
        seed=2,
        StudyInstanceUID=first.StudyInstanceUID,
        SeriesInstanceUID=first.SeriesInstanceUID,
        FrameOfReferenceUID=first.FrameOfReferenceUID,
    )
    ref = Dataset()
    ref.ReferencedSOPClassUID = first.SOPClassUID
    ref.ReferencedSOPInstanceUID = first.SOPInstanceUID
    second.SourceImageSequence = Sequence([ref])
    out1, out2 = _run(first), _run(second)
    assert out1.StudyInstanceUID == out2.StudyInstanceUID != first.StudyInstanceUID
    assert out1.SeriesInstanceUID == out2.SeriesInstanceUID != first.SeriesInstanceUID
    assert out1.FrameOfReferenceUID == out2.FrameOfReferenceUID
    assert out1.SOPInstanceUID != out2.SOPInstanceUID
    # a reference to the first image now points at its new UID
    assert out2.SourceImageSequence[0].ReferencedSOPInstanceUID == out1.SOPInstanceUID
    assert out1.file_meta.MediaStorageSOPInstanceUID == out1.SOPInstanceUID
    assert out1.SOPClassUID == first.SOPClassUID  # class UIDs identify no one: kept
    assert out1.StudyInstanceUID.startswith("2.25.")
    assert len(out1.StudyInstanceUID) <= 64


def test_uid_mapping_depends_on_the_secret() -> None:
    uid = "1.2.840.113619.2.55.3.1"
    assert UIDMapper(SECRET).map(uid) == UIDMapper(SECRET).map(uid)
    assert UIDMapper(SECRET).map(uid) != UIDMapper(b"another-secret-0123456789").map(uid)
    with pytest.raises(ValueError, match="16 bytes"):
        UIDMapper(b"short")


def test_basic_profile_removes_blanks_and_pseudonymises(fx: Any) -> None:
    out = _run(fx.ct_image())
    assert out.PatientName == out.PatientID
    assert str(out.PatientID).startswith("MF-")
    assert out.PatientBirthDate == ""  # Z
    assert "PatientAddress" not in out
    assert "OtherPatientIDs" not in out
    assert out.AccessionNumber == ""
    assert out.InstitutionName == ""
    assert out.StudyDate == ""  # dates removed unless an option keeps or shifts them
    assert "PatientAge" not in out
    assert out.PatientSex == ""
    assert "DeviceSerialNumber" in out
    assert out.DeviceSerialNumber == ""
    assert not any(e.tag.is_private for e in out)
    assert out.PatientIdentityRemoved == "YES"
    assert out.LongitudinalTemporalInformationModified == "REMOVED"
    codes = [i.CodeValue for i in out.DeidentificationMethodCodeSequence]
    assert codes == ["113100"]
    assert out.Modality == "CT"
    assert out.BodyPartExamined == "CHEST"


def test_blanking_instead_of_pseudonym_when_asked(fx: Any) -> None:
    out = _run(fx.ct_image(), DeidOptions(burned_in_text="off", pseudonymize_patient=False))
    assert out.PatientID == ""
    assert out.PatientName == ""


def test_dates_shift_consistently_per_patient(fx: Any) -> None:
    options = DeidOptions(burned_in_text="off", shift_dates=True, max_shift_days=100)
    a = _run(fx.ct_image(PatientID="P1", StudyDate="20240315", SeriesDate="20240316"), options)
    b = _run(fx.ct_image(PatientID="P1", StudyDate="20240320"), options)
    c = _run(fx.ct_image(PatientID="P2", StudyDate="20240315"), options)
    deid = Deidentifier(SECRET, options)
    shift = deid.date_shift_days("P1")
    assert -100 <= shift <= -1
    from datetime import date, timedelta

    expected = (date(2024, 3, 15) + timedelta(days=shift)).strftime("%Y%m%d")
    assert a.StudyDate == expected
    # intervals within a patient survive; the offset is the same across files
    assert int(a.SeriesDate) - int(a.StudyDate) == 1
    assert (date.fromisoformat(_iso(b.StudyDate)) - date.fromisoformat(_iso(a.StudyDate))).days == 5
    assert c.StudyDate != a.StudyDate or deid.date_shift_days("P2") == shift
    assert a.StudyTime == "101500"  # times carry no date: kept under Modified Dates
    assert a.PatientBirthDate == ""  # birth date is Z in every case
    assert a.LongitudinalTemporalInformationModified == "MODIFIED"
    assert "113107" in [i.CodeValue for i in a.DeidentificationMethodCodeSequence]


def _iso(da: str) -> str:
    return f"{da[:4]}-{da[4:6]}-{da[6:8]}"


def test_retain_options_keep_their_attributes(fx: Any) -> None:
    options = DeidOptions(
        burned_in_text="off",
        retain_device_identity=True,
        retain_dates=True,
        retain_patient_characteristics=True,
        retain_institution_identity=True,
    )
    out = _run(fx.ct_image(), options)
    assert out.DeviceSerialNumber == "SN-777"
    assert out.StationName == "CT01"
    assert out.StudyDate == "20240315"
    assert out.PatientAge == "054Y"
    assert out.PatientSex == "F"
    assert str(out.PatientWeight) == "70"
    assert out.InstitutionName == "General Hospital"
    assert out.PatientBirthDate == ""  # no option keeps the birth date
    assert out.LongitudinalTemporalInformationModified == "UNMODIFIED"
    codes = {i.CodeValue for i in out.DeidentificationMethodCodeSequence}
    assert {"113100", "113106", "113108", "113109", "113112"} <= codes


def test_retain_uids_keeps_uids(fx: Any) -> None:
    ds = fx.ct_image()
    out = _run(ds, DeidOptions(burned_in_text="off", retain_uids=True))
    assert out.StudyInstanceUID == ds.StudyInstanceUID


def test_nested_identifiers_are_handled(fx: Any) -> None:
    ds = fx.ct_image()
    item = Dataset()
    item.PatientID = "MRN-0042"
    item.IssuerOfPatientID = "HOSP"
    ds.OtherPatientIDsSequence = Sequence([item])
    req = Dataset()
    req.RequestedProcedureID = "RP-1"
    req.StudyInstanceUID = ds.StudyInstanceUID
    ds.ReferencedStudySequence = Sequence([req])
    out = _run(ds)
    assert "OtherPatientIDsSequence" not in out
    assert len(out.ReferencedStudySequence) == 0  # X/Z on a sequence: emptied


def test_overlay_and_curve_groups_are_removed(fx: Any) -> None:
    ds = fx.ct_image()
    ds.add_new(0x60003000, "OW", b"\x00\x01" * 8)
    ds.add_new(0x60004000, "LT", "overlay comment naming the patient")
    ds.add_new(0x50000010, "US", 1)
    out = _run(ds)
    assert 0x60003000 not in out
    assert 0x60004000 not in out
    assert 0x50000010 not in out


@pytest.mark.slow
def test_burned_in_text_is_found_and_masked(tmp_path: Path, fx: Any) -> None:
    from medflow.analyzers.imaging.burned_in import TextFinder
    from medflow.analyzers.imaging.render import display_frame

    ds = fx.text_image("DOE JANE 1970")
    finder = TextFinder()
    before = finder.find(display_frame(ds, ds.pixel_array))
    assert before, "the OCR should read the burned-in name"
    out = _run(ds, DeidOptions(burned_in_text="flagged"))
    pixels = out.pixel_array
    assert out.BurnedInAnnotation == "NO"
    assert "113101" in [i.CodeValue for i in out.DeidentificationMethodCodeSequence]
    # the text rows are blank now, the anatomy below is untouched
    assert pixels[10:50, 20:300].max() <= 10
    assert pixels[200, 320] == 120
    assert finder.find(display_frame(out, pixels)) == []


def test_ocr_is_skipped_when_off_and_for_unflagged_modalities(fx: Any) -> None:
    deid = Deidentifier(SECRET, DeidOptions(burned_in_text="flagged"))
    ct = fx.ct_image()
    summary = deid.deidentify_dataset(ct, "ct.dcm")
    assert summary.ocr_ran is False


def test_structured_report_text_is_replaced_but_its_tree_kept(tmp_path: Path, fx: Any) -> None:
    from medflow.analyzers.imaging.analyzer import ImagingAnalyzer
    from medflow.analyzers.imaging.models import ModelRunner

    fx.write_model(tmp_path / "models")
    path = fx.save(fx.ct_image(), tmp_path / "ct.dcm")
    batch = ImagingAnalyzer(ModelRunner(tmp_path / "models")).analyze_many([(path.name, path)])
    sr = batch.findings_sr(batch.report.images[0].metadata.study_instance_uid)
    image_uid = batch.report.images[0].metadata.sop_instance_uid
    out = _run(sr)
    texts = [
        str(child.TextValue)
        for item in out.ContentSequence
        for child in [item, *item.get("ContentSequence", [])]
        if "TextValue" in child
    ]
    assert texts
    assert set(texts) == {"REMOVED"}  # "bright", "brightness", "ct.dcm: ..." are gone
    refs = [
        child.ReferencedSOPSequence[0].ReferencedSOPInstanceUID
        for item in out.ContentSequence
        for child in item.get("ContentSequence", [])
        if child.ValueType == "IMAGE"
    ]
    assert refs
    assert image_uid not in refs  # the image reference follows the UID map


def test_dicom_without_pixel_data_is_still_deidentified(fx: Any) -> None:
    out = _run(fx.no_pixel_data(), DeidOptions(burned_in_text="all"))
    assert out.PatientIdentityRemoved == "YES"
    assert str(out.PatientID).startswith("MF-")


def _traverse(ds: Dataset) -> list[str]:
    """Record types in depth-first order, following only the byte offsets (PS3.3 F.3)."""
    by_offset = {item.seq_item_tell: item for item in ds.DirectoryRecordSequence}
    out: list[str] = []

    def visit(offset: int) -> None:
        while offset:
            record = by_offset[offset]  # KeyError when an offset points nowhere
            out.append(str(record.DirectoryRecordType))
            visit(int(record.OffsetOfReferencedLowerLevelDirectoryEntity))
            offset = int(record.OffsetOfTheNextDirectoryRecord)

    visit(int(ds.OffsetOfTheFirstDirectoryRecordOfTheRootDirectoryEntity))
    return out


def test_dicomdir_offsets_still_resolve_after_deidentification() -> None:
    from pydicom.data import get_testdata_file

    src = Path(get_testdata_file("DICOMDIR"))
    deid = Deidentifier(SECRET, DeidOptions(burned_in_text="off"))
    data, _ = deid.deidentify_file(src, src.name)
    out = pydicom.dcmread(io.BytesIO(data))
    original = pydicom.dcmread(src)
    assert len(data) != src.stat().st_size  # lengths changed, so every offset had to move
    walked = _traverse(out)
    assert walked == _traverse(original)
    assert len(walked) == len(original.DirectoryRecordSequence)
    patients = [r for r in out.DirectoryRecordSequence if r.DirectoryRecordType == "PATIENT"]
    assert patients
    assert all(str(r.PatientID).startswith("MF-") for r in patients)


@pytest.mark.slow
def test_cine_loop_is_read_on_sampled_frames_and_masked_on_all(fx: Any) -> None:
    import numpy as np

    single = fx.text_image("DOE JANE 1970")
    frame = single.pixel_array
    cine = fx.text_image("DOE JANE 1970")
    cine.set_pixel_data(np.stack([frame] * 6), "MONOCHROME2", 8, generate_instance_uid=False)
    deid = Deidentifier(SECRET, DeidOptions(burned_in_text="flagged"))
    summary = deid.deidentify_dataset(cine, "cine.dcm")
    assert {r.frame for r in summary.masked_regions} == {0, 3, 5}
    pixels = cine.pixel_array
    assert pixels.shape[0] == 6
    assert all(pixels[i, 10:50, 20:300].max() <= 10 for i in range(6))


def test_instance_creation_date_does_not_leak_the_exam_day(fx: Any) -> None:
    out = _run(fx.ct_image(InstanceCreationDate="20240315", InstanceCreationTime="101600"))
    assert out.InstanceCreationDate != "20240315"
    shifted = _run(
        fx.ct_image(InstanceCreationDate="20240315"),
        DeidOptions(burned_in_text="off", shift_dates=True),
    )
    assert shifted.InstanceCreationDate not in ("20240315", "19000101")


@pytest.mark.slow
def test_png_and_jpeg_lose_metadata_and_burned_in_text(tmp_path: Path, fx: Any) -> None:
    from PIL import Image, PngImagePlugin

    ds = fx.text_image("DOE JANE 1970")
    img = Image.fromarray(ds.pixel_array)
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "patient Jane Doe, MRN-0042")
    png = tmp_path / "shot.png"
    img.save(png, pnginfo=info)
    exif = Image.Exif()
    exif[0x013B] = "Jane Doe"  # Artist
    jpg = tmp_path / "shot.jpg"
    img.save(jpg, exif=exif, quality=95)
    deid = Deidentifier(SECRET, DeidOptions(burned_in_text="flagged"))
    for path in (png, jpg):
        data, summary = deid.deidentify_file(path, path.name)
        assert summary.masked_regions
        assert b"Jane" not in data
        assert b"MRN-0042" not in data
        out = Image.open(io.BytesIO(data))
        assert out.format == ("PNG" if path is png else "JPEG")
        assert max(out.convert("L").crop((20, 10, 300, 50)).getdata()) <= 40


@pytest.mark.slow
def test_big_endian_image_masked_and_rewritten_little_endian() -> None:
    import numpy as np
    from pydicom.data import get_testdata_file

    from medflow.analyzers.imaging.render import display_frame

    big = Path(get_testdata_file("OBXXXX1A_expb.dcm"))  # US, Explicit VR Big Endian, palette
    little = pydicom.dcmread(get_testdata_file("OBXXXX1A.dcm"))
    deid = Deidentifier(SECRET, DeidOptions(burned_in_text="flagged"))
    data, summary = deid.deidentify_file(big, big.name)
    out = pydicom.dcmread(io.BytesIO(data))
    assert summary.masked_regions  # the scanner's screen text
    assert out.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"
    keep = np.ones(out.pixel_array.shape[:2], bool)
    for r in summary.masked_regions:
        keep[r.top : r.top + r.height, r.left : r.left + r.width] = False
    # outside the masked text the image is exactly the little-endian original's
    assert np.array_equal(out.pixel_array[keep], little.pixel_array[keep])
    shown, expected = display_frame(out, out.pixel_array), display_frame(little, little.pixel_array)
    assert np.array_equal(shown[keep], expected[keep])
