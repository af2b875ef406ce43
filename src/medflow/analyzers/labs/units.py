"""Printed lab units to UCUM, and conversions between UCUM units that need no analyte.

Lab reports print units in many spellings (``mg%``, ``gm/dl``, ``/cumm``, ``x10^9/L``,
``lakhs/cumm``, ``uIU/mL``). :class:`UnitTable` rewrites them into UCUM codes from a spelling
table kept as data (``knowledge/units.yaml``), and converts between UCUM units of one dimension
(``g/L`` <-> ``mg/dL``, ``10*9/L`` <-> ``/uL``). Conversions that depend on the analyte
(glucose ``mmol/L`` <-> ``mg/dL``) live with each test in the knowledge base.

No general unit library is used: pint reads ``10*3/uL`` as 30/uL without error (FINDINGS.md).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from medflow.analyzers.labs.kb_errors import KnowledgeBaseError

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: 10x faster
_PACKAGE = "medflow.analyzers.labs.knowledge"

_SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹", "0123456789")
_POWER = re.compile(
    r"^(?:x|×|\*)?10(?:\^|\*|e)?(?P<exp>\d{1,2})(?:cells)?/(?P<vol>ul|l|cumm|cmm|mm3)$"
)
_ANNOTATION = re.compile(r"^(?P<base>.*?)\{[^{}]*\}$")
_POWER_BASE = re.compile(r"^10\*(?P<exp>\d{1,2})/(?P<vol>uL|L)$")


def normalize_spelling(printed: str) -> str:
    """Return the lookup key of a printed unit.

    Lower case, micro sign and Greek mu as ``u``, ``10³`` as ``10^3``, other superscript digits as
    digits, and no white space.

    Args:
        printed: the unit as printed on the report.

    Returns:
        The normalised key (``"x 10³/µL"`` -> ``"x10^3/ul"``).
    """
    text = printed.strip().lower().replace("µ", "u").replace("μ", "u")
    text = re.sub(r"10([⁰¹²³⁴⁵⁶⁷⁸⁹]+)", lambda m: "10^" + m.group(1).translate(_SUPERSCRIPTS), text)
    text = text.translate(_SUPERSCRIPTS)
    return re.sub(r"\s+", "", text)


def _read_yaml(name: str, path: Path | None) -> dict[str, Any]:
    if path is None:
        text = resources.files(_PACKAGE).joinpath(name).read_text(encoding="utf-8")
    else:
        text = path.read_text(encoding="utf-8")
    data = yaml.load(text, Loader=_LOADER)
    if not isinstance(data, dict):
        raise KnowledgeBaseError(f"{name}: expected a mapping at the top level")
    return data


class UnitTable:
    """Spellings of lab units and the UCUM conversions that do not depend on the analyte.

    Args:
        spellings: normalised printed spelling -> UCUM code.
        dimensions: dimension name -> UCUM code -> factor to that dimension's base unit.

    Raises:
        KnowledgeBaseError: when a unit appears in two dimensions or a factor is not positive.
    """

    def __init__(
        self, spellings: Mapping[str, str], dimensions: Mapping[str, Mapping[str, float]]
    ) -> None:
        self._spellings = {normalize_spelling(k): v for k, v in spellings.items()}
        self._factors: dict[str, tuple[str, float]] = {}
        for dim, units in dimensions.items():
            for code, factor in units.items():
                if code in self._factors:
                    raise KnowledgeBaseError(f"units.yaml: unit {code!r} is in two dimensions")
                if not factor > 0:
                    raise KnowledgeBaseError(f"units.yaml: unit {code!r} has factor {factor}")
                self._factors[code] = (dim, float(factor))
        known = set(self._factors) | set(self._spellings.values())
        self._codes = {normalize_spelling(code): code for code in known}
        self._seen: dict[str, str | None] = {}

    @classmethod
    def load(cls, path: Path | None = None) -> UnitTable:
        """Load the spelling and dimension tables.

        Args:
            path: a units YAML file; the packaged ``knowledge/units.yaml`` when None.

        Returns:
            The unit table.

        Raises:
            KnowledgeBaseError: when the file lacks ``spellings`` or ``dimensions``.
        """
        data = _read_yaml("units.yaml", path)
        spellings = data.get("spellings")
        dims = data.get("dimensions")
        if not isinstance(spellings, dict) or not isinstance(dims, dict):
            raise KnowledgeBaseError("units.yaml: needs 'spellings' and 'dimensions' mappings")
        unknown = set(data) - {"spellings", "dimensions"}
        if unknown:
            raise KnowledgeBaseError(f"units.yaml: unknown keys {sorted(unknown)}")
        dimensions = {name: dict(d["units"]) for name, d in dims.items()}
        for name, d in dims.items():
            if d.get("base") not in d["units"] or d["units"][d["base"]] != 1:
                raise KnowledgeBaseError(f"units.yaml: dimension {name!r} base must have factor 1")
        return cls({str(k): str(v) for k, v in spellings.items()}, dimensions)

    def to_ucum(self, printed: str) -> str | None:
        """Rewrite a printed unit into its UCUM code.

        Args:
            printed: the unit as printed (``"mg%"``, ``"x10^9/L"``, ``"uIU/mL"``).

        Returns:
            The UCUM code (``"mg/dL"``, ``"10*9/L"``, ``"u[IU]/mL"``); ``""`` for an empty unit;
            None when the spelling is not known.
        """
        if printed in self._seen:
            return self._seen[printed]
        found = self._to_ucum(printed)
        if len(self._seen) < 4096:
            self._seen[printed] = found
        return found

    def _to_ucum(self, printed: str) -> str | None:
        key = normalize_spelling(printed)
        if not key:
            return ""
        if key in self._spellings:
            return self._spellings[key]
        match = _POWER.match(key)
        if match:
            vol = "L" if match["vol"] == "l" else "uL"
            return f"10*{int(match['exp'])}/{vol}"
        return self._codes.get(key)

    def _dimension(self, ucum: str) -> tuple[str, float] | None:
        annotated = _ANNOTATION.match(ucum)
        if annotated and not annotated["base"].endswith("/"):
            # UCUM: an annotation is unity; {ratio} is 1 and ng/mL{FEU} is ng/mL
            ucum = annotated["base"] or "1"
        if ucum in self._factors:
            return self._factors[ucum]
        match = _POWER_BASE.match(ucum)
        if match:
            exp = int(match["exp"]) - (6 if match["vol"] == "L" else 0)
            return ("number_concentration", 10.0**exp)
        return None

    def dimension(self, ucum: str) -> str | None:
        """The dimension of a UCUM code (``substance_concentration`` for ``mmol/L``), or None."""
        found = self._dimension(ucum)
        return None if found is None else found[0]

    def is_known(self, ucum: str) -> bool:
        """Whether ``ucum`` is a UCUM code this table produces or converts."""
        return self._dimension(ucum) is not None or ucum in self._spellings.values()

    def factor(self, from_ucum: str, to_ucum: str) -> float | None:
        """The factor that turns a value in ``from_ucum`` into ``to_ucum``.

        Args:
            from_ucum: a UCUM code.
            to_ucum: a UCUM code.

        Returns:
            The multiplier, 1.0 for equal codes, or None when the units are not of one dimension.
        """
        if from_ucum == to_ucum:
            return 1.0
        src = self._dimension(from_ucum)
        dst = self._dimension(to_ucum)
        if src is None or dst is None or src[0] != dst[0]:
            return None
        return src[1] / dst[1]

    def convert(self, value: float, from_ucum: str, to_ucum: str) -> float | None:
        """Convert ``value`` between two UCUM units of one dimension, or None when impossible."""
        factor = self.factor(from_ucum, to_ucum)
        return None if factor is None else value * factor
