"""Report pages of the documents and dictation pipelines: the entities highlighted in the
text at their stored offsets, negation visibly marked, types/traits/codes in the tooltip and
the table, and markup in the text shown as text, never run."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from tests.unit.web.conftest import Portal, api_token, entity, login, store_clinical

from medflow.domain.clinical import Entity
from medflow.web.highlight import highlight

TEXT = (
    'Patient <script>alert("owned")</script> denies chest pain.\n'
    "Takes metformin 500 mg daily for type 2 diabetes.\n"
    "Note: <img src=x onerror=alert(1)> & \"quotes\" 'kept'."
)
ENTITIES = [
    entity(
        TEXT,
        "chest pain",
        "MEDICAL_CONDITION",
        "DX_NAME",
        id_=1,
        traits=("NEGATION", "SYMPTOM"),
        icd10=("R07.9", "Chest pain, unspecified"),
    ),
    entity(
        TEXT,
        "metformin",
        "MEDICATION",
        "GENERIC_NAME",
        id_=2,
        rxnorm=("6809", "metformin"),
        attributes=(("DOSAGE", "500 mg"),),
    ),
    entity(
        TEXT,
        "type 2 diabetes",
        "MEDICAL_CONDITION",
        "DX_NAME",
        id_=3,
        traits=("DIAGNOSIS",),
        icd10=("E11.9", "Type 2 diabetes mellitus without complications"),
    ),
    # Inside "type 2 diabetes": overlaps an entity shown already, so listed but not nested.
    entity(TEXT, "diabetes", "MEDICAL_CONDITION", "DX_NAME", id_=4),
    # Offsets that do not give back its text (a corrupt result): never highlighted.
    {**entity(TEXT, "Takes", "MEDICATION", "GENERIC_NAME", id_=5), "text": "Tales"},
]
SHOWN = {1: "chest pain", 2: "metformin", 3: "type 2 diabetes"}


class TextAndMarks(HTMLParser):
    """The text content of ``#clinical-text`` (entities unescaped) and its marks."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.depth = 0
        self.text = ""
        self.marks: list[dict[str, str]] = []
        self._mark: dict[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        if self.depth:
            self.depth += 1
            assert tag == "mark", f"only <mark> inside the text, got <{tag}>"
            self._mark = {**found, "content": ""}
        elif found.get("id") == "clinical-text":
            self.depth = 1

    def handle_endtag(self, tag: str) -> None:
        if not self.depth:
            return
        self.depth -= 1
        if self._mark is not None and tag == "mark":
            self.marks.append(self._mark)
            self._mark = None

    def handle_data(self, data: str) -> None:
        if self.depth:
            self.text += data
            if self._mark is not None:
                self._mark["content"] += data


def _parse(html: str) -> TextAndMarks:
    parser = TextAndMarks()
    parser.feed(html)
    return parser


def test_pieces_follow_the_offsets_and_skip_overlaps_and_mismatches() -> None:
    shown = highlight(TEXT, [Entity.model_validate(e) for e in ENTITIES])
    assert "".join(p.text for p in shown.pieces) == TEXT
    assert {e.id: e.text for e in shown.entities} == SHOWN
    for piece in shown.pieces:
        if piece.entity is not None:
            assert TEXT[piece.entity.begin : piece.entity.end] == piece.text
    assert shown.skipped == 2
    assert [c for c, _, _ in shown.legend] == ["MEDICATION", "MEDICAL_CONDITION"]


@pytest.mark.parametrize("pipeline", ["documents", "dictation"])
def test_report_page_highlights_entities_at_their_offsets(portal: Portal, pipeline: str) -> None:
    doc = store_clinical(portal, pipeline, TEXT, ENTITIES)
    login(portal.client, "doc@example.org")
    page = portal.client.get(f"/reports/{doc}")
    assert page.status_code == 200
    parsed = _parse(page.text)
    assert parsed.text == TEXT  # every character, in order, none added or lost
    assert len(parsed.marks) == len(SHOWN)
    for mark in parsed.marks:
        begin, end = int(mark["data-begin"]), int(mark["data-end"])
        assert TEXT[begin:end] == mark["content"] == SHOWN[int(mark["id"][1:])]
    by_text = {m["content"]: m for m in parsed.marks}
    negated = by_text["chest pain"]
    assert "neg" in negated["class"].split() and negated["data-negated"] == "true"
    assert "negated" in negated["title"] and "ICD-10-CM R07.9" in negated["title"]
    med = by_text["metformin"]
    assert "neg" not in med["class"].split() and "cat-MEDICATION" in med["class"].split()
    assert "RxNorm 6809" in med["title"] and "dosage: 500 mg" in med["title"]
    assert "E11.9" in by_text["type 2 diabetes"]["title"]
    # The table lists every valid entity, the overlapping one included.
    assert 'data-entity="4"' in page.text and 'data-entity="5"' not in page.text


def test_markup_in_the_text_is_escaped(portal: Portal) -> None:
    doc = store_clinical(portal, "documents", TEXT, ENTITIES)
    login(portal.client, "staff@example.org")
    html = portal.client.get(f"/reports/{doc}").text
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#34;owned&#34;)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt; &amp; &#34;quotes&#34; &#39;kept&#39;" in html


def test_dictation_report_links_its_medical_resume_sandboxed(portal: Portal) -> None:
    doc = store_clinical(portal, "dictation", TEXT, ENTITIES)
    login(portal.client, "pat@example.org")
    page = portal.client.get(f"/reports/{doc}")
    assert f'href="/reports/{doc}/resume"' in page.text
    resume = portal.client.get(f"/reports/{doc}/resume")
    assert resume.status_code == 200 and "<h1>Resume</h1>" in resume.text
    assert resume.headers["content-security-policy"].startswith("sandbox")
    other = store_clinical(portal, "documents", TEXT, ENTITIES, name="other.txt")
    assert portal.client.get(f"/reports/{other}/resume").status_code == 404


def test_downloads_and_api_results_are_the_pipelines_own_files(portal: Portal) -> None:
    doc = store_clinical(portal, "documents", TEXT, ENTITIES)
    login(portal.client, "doc@example.org")
    page = portal.client.get(f"/reports/{doc}").text
    assert f"/reports/{doc}/download/result.json" in page
    got = portal.client.get(f"/reports/{doc}/download/result.json")
    assert got.status_code == 200 and got.json()["entities"][0]["begin"] == ENTITIES[0]["begin"]
    assert portal.client.get(f"/reports/{doc}/download/report.json").status_code == 404
    api = portal.client.get(f"/api/v1/documents/{doc}/results", headers=api_token(portal, "doctor"))
    assert api.status_code == 200
    assert [e["text"] for e in api.json()["report"]["entities"]][:3] == list(SHOWN.values())


def test_a_run_without_stored_results_says_not_ready(portal: Portal) -> None:
    doc = store_clinical(portal, "documents", TEXT, ENTITIES)
    portal.platform.services.store.delete("results", f"documents/{doc}/text.txt")
    login(portal.client, "doc@example.org")
    page = portal.client.get(f"/reports/{doc}")
    assert page.status_code == 200 and "not ready yet" in page.text


def test_patient_home_links_their_analysed_note(portal: Portal) -> None:
    doc = store_clinical(portal, "documents", TEXT, ENTITIES)
    other = store_clinical(portal, "documents", TEXT, ENTITIES, patient_id="P2", name="b.txt")
    portal.platform.services.db.documents.set_status(doc, "processed")
    portal.platform.services.db.documents.set_status(other, "processed")
    login(portal.client, "pat@example.org")
    home = portal.client.get("/").text
    assert f'href="/reports/{doc}"' in home and other not in home
