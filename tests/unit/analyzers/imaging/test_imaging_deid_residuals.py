"""Header residuals (issue 15): the dates, names and network addresses Table E.1-1's later
editions list, the File Meta group, data sets without their preamble or file meta, and files
with one bad attribute."""

from __future__ import annotations

import copy
import io
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom.data import get_testdata_file

from medflow.analyzers.imaging.deid import Deidentifier
from medflow.analyzers.imaging.profile import Action, load_profile
from medflow.domain.imaging import DeidOptions

SECRET = b"residual-test-secret-0123456789ab"


def _bytes(ds: Any, **kwargs: Any) -> bytes:
    buf = io.BytesIO()
    ds.save_as(buf, **kwargs)
    return buf.getvalue()


def _deid(data: bytes, options: DeidOptions | None = None) -> tuple[Any, Any]:
    deid = Deidentifier(SECRET, options or DeidOptions(burned_in_text="off"))
    out, summary = deid.deidentify_file(data, "x.dcm")
    return pydicom.dcmread(io.BytesIO(out)), summary


def test_presentation_creation_date_and_network_id_do_not_survive(fx: Any) -> None:
    ds = fx.ct_image(
        PresentationCreationDate="20240315",
        PresentationCreationTime="101600",
        NetworkID="RADIOLOGY1",
        StationAETitle="CT_SCANNER_3",
        CreationDate="20240315",
    )
    out, _ = _deid(_bytes(ds, enforce_file_format=True))
    assert out.get("PresentationCreationDate") != "20240315"
    assert out.get("PresentationCreationTime") != "101600"
    assert "NetworkID" not in out
    assert "StationAETitle" not in out
    assert "CreationDate" not in out
    # the file now says temporal information was removed, and that is true
    assert out.LongitudinalTemporalInformationModified == "REMOVED"
    shifted, _ = _deid(
        _bytes(ds, enforce_file_format=True), DeidOptions(burned_in_text="off", shift_dates=True)
    )
    assert shifted.PresentationCreationDate not in ("20240315", "19000101")


def test_retain_device_identity_keeps_the_network_id(fx: Any) -> None:
    ds = fx.ct_image(NetworkID="RADIOLOGY1")
    out, _ = _deid(
        _bytes(ds, enforce_file_format=True),
        DeidOptions(burned_in_text="off", retain_device_identity=True),
    )
    assert out.NetworkID == "RADIOLOGY1"


def test_file_meta_ae_titles_and_private_information_are_removed(fx: Any) -> None:
    ds = fx.ct_image()
    ds.file_meta.SourceApplicationEntityTitle = "CLEVELAND_US"
    ds.file_meta.SendingApplicationEntityTitle = "PACS_MAIN"
    ds.file_meta.ReceivingApplicationEntityTitle = "RESEARCH"
    ds.file_meta.PrivateInformationCreatorUID = "1.2.3.4"
    ds.file_meta.PrivateInformation = b"site secret notes"
    data = _bytes(ds, enforce_file_format=True)
    out, _ = _deid(data)
    for keyword in (
        "SourceApplicationEntityTitle",
        "SendingApplicationEntityTitle",
        "ReceivingApplicationEntityTitle",
        "PrivateInformationCreatorUID",
        "PrivateInformation",
    ):
        assert keyword not in out.file_meta, keyword
    assert out.file_meta.TransferSyntaxUID == ds.file_meta.TransferSyntaxUID
    assert out.file_meta.MediaStorageSOPInstanceUID == out.SOPInstanceUID
    assert b"CLEVELAND" not in _bytes(out)


def test_every_file_meta_attribute_that_names_a_site_has_a_rule() -> None:
    exact, _ = load_profile().resolved(DeidOptions())
    for tag in (0x00020016, 0x00020017, 0x00020018, 0x00020100, 0x00020102):
        assert exact[tag] is Action.REMOVE
    assert exact[0x00020003] is Action.UID  # Media Storage SOP Instance UID


@pytest.mark.parametrize(
    "strip",
    [
        pytest.param("meta", id="no preamble, no file meta (a bare data set)"),
        pytest.param("preamble", id="file meta but no preamble"),
    ],
)
def test_a_data_set_without_preamble_or_file_meta_is_read_and_written_whole(
    fx: Any, strip: str
) -> None:
    ds = fx.ct_image()
    if strip == "meta":
        bare = copy.deepcopy(ds)
        del bare.file_meta
        data = _bytes(bare, implicit_vr=True, little_endian=True, enforce_file_format=False)
        assert data[128:132] != b"DICM"
    else:
        data = _bytes(ds, enforce_file_format=True)[128:]
    out_bytes, _ = Deidentifier(SECRET, DeidOptions(burned_in_text="off")).deidentify_file(
        data, "bare.dcm"
    )
    assert out_bytes[128:132] == b"DICM"
    out = pydicom.dcmread(io.BytesIO(out_bytes))  # no force needed: a proper Part 10 file
    meta = out.file_meta
    assert meta.MediaStorageSOPClassUID == ds.SOPClassUID
    assert meta.MediaStorageSOPInstanceUID == out.SOPInstanceUID != ds.SOPInstanceUID
    assert meta.TransferSyntaxUID in ("1.2.840.10008.1.2", "1.2.840.10008.1.2.1")
    assert "ImplementationClassUID" in meta
    assert out.PatientName != ds.PatientName
    assert (out.pixel_array == ds.pixel_array).all()


def test_a_bad_number_of_frames_is_replaced_and_reported() -> None:
    path = Path(get_testdata_file("badVR.dcm"))  # Number of Frames "1A"
    deid = Deidentifier(SECRET, DeidOptions(burned_in_text="off"))
    data, summary = deid.deidentify_file(path, path.name)
    out = pydicom.dcmread(io.BytesIO(data))
    assert out.NumberOfFrames == 15
    assert out.pixel_array.shape[0] == 15
    assert any("(0028,0008) Number of Frames" in r and "replaced" in r for r in summary.repairs)
    assert out.PatientIdentityRemoved == "YES"


def test_an_unknown_vr_is_removed_and_the_rest_deidentified(fx: Any) -> None:
    ds = fx.ct_image(StationName="STATION1", InstitutionName="CLEVELAND CLINIC")
    data = _bytes(ds, enforce_file_format=True)
    at = data.index(b"STATION1")
    assert data[at - 4 : at - 2] == b"SH"
    broken = data[: at - 4] + b"ZZ" + data[at - 2 :]  # a VR no reader knows
    out, summary = _deid(broken)
    assert "StationName" not in out
    assert any("(0008,1010) Station Name" in r and "removed" in r for r in summary.repairs)
    assert not any("STATION1" in r for r in summary.repairs)  # tags and names, never values
    assert out.PatientName != ds.PatientName
    assert out.get("InstitutionName") != "CLEVELAND CLINIC"
    assert out.StudyInstanceUID != ds.StudyInstanceUID
