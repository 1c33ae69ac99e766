"""The bench's one table: every measurement (n, median, min, max, p95), every ratio of medians and every target.

Pure: sections in, a JSON-ready dict and a Markdown table out. Ratios are always computed here, from the
medians of the samples, never passed in, so the report cannot disagree with its own numbers.
"""

from __future__ import annotations

import json
import math
import operator
import statistics
from dataclasses import dataclass, field
from pathlib import Path

OPS = {">=": operator.ge, "<=": operator.le, "<": operator.lt, ">": operator.gt}


def percentile(samples: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default): p95 of 5 samples leans on the largest."""
    if not samples:
        raise ValueError("no samples")
    s = sorted(samples)
    pos = (len(s) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


@dataclass
class Series:
    label: str
    unit: str
    samples: list[float]
    detail: dict = field(default_factory=dict)  # e.g. phase medians, rows, tables covered

    def stats(self) -> dict:
        s = self.samples
        return {
            "n": len(s),
            "median": statistics.median(s),
            "min": min(s),
            "max": max(s),
            "p95": percentile(s, 0.95),
        }


@dataclass(frozen=True)
class Target:
    op: str
    value: float
    scope: str = ""  # e.g. "at M": the target is for another scale; met is still computed

    def __post_init__(self):
        if self.op not in OPS:
            raise ValueError(f"unknown comparison {self.op!r}")

    def met(self, value: float) -> bool:
        return OPS[self.op](value, self.value)

    def text(self) -> str:
        return f"{self.op} {self.value:g}" + (f" ({self.scope})" if self.scope else "")


@dataclass(frozen=True)
class Ratio:
    """median(numerator) / median(denominator)."""

    label: str
    numerator: str
    denominator: str
    target: Target | None = None


@dataclass(frozen=True)
class Check:
    """A statistic of one series against a target (e.g. p95 < 60 s)."""

    label: str
    series: str
    stat: str
    target: Target


@dataclass
class Section:
    key: str
    title: str
    series: list[Series] = field(default_factory=list)
    ratios: list[Ratio] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def get(self, label: str) -> Series:
        for s in self.series:
            if s.label == label:
                return s
        raise KeyError(f"{self.key}: no series {label!r}")


def build(sections: list[Section], meta: dict) -> dict:
    """The JSON document: meta, then per section its series (with stats), ratios and checks evaluated."""
    out = {**meta, "sections": []}
    for sec in sections:
        series = [{"label": s.label, "unit": s.unit, **s.stats(), "samples": s.samples, **s.detail} for s in sec.series]
        ratios = []
        for r in sec.ratios:
            num, den = sec.get(r.numerator).stats()["median"], sec.get(r.denominator).stats()["median"]
            value = num / den if den else math.inf
            ratios.append(
                {
                    "label": r.label,
                    "numerator": r.numerator,
                    "denominator": r.denominator,
                    "value": value,
                    "target": r.target.text() if r.target else None,
                    "met": r.target.met(value) if r.target else None,
                }
            )
        checks = []
        for c in sec.checks:
            value = sec.get(c.series).stats()[c.stat]
            checks.append(
                {
                    "label": c.label,
                    "series": c.series,
                    "stat": c.stat,
                    "value": value,
                    "target": c.target.text(),
                    "met": c.target.met(value),
                }
            )
        out["sections"].append(
            {"key": sec.key, "title": sec.title, "series": series, "ratios": ratios, "checks": checks}
            | {"notes": sec.notes}
        )
    return out


def _num(value: float, unit: str = "") -> str:
    if value is None:
        return ""
    if math.isinf(value):
        return "inf"
    if unit == "rows/s" or abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}"


def _met(met: bool | None) -> str:
    return "" if met is None else ("yes" if met else "**no**")


def markdown(doc: dict) -> str:
    """One table: a row per measurement, then a row per ratio or check, section by section; notes below."""
    head = "| # | measurement | unit | n | median | min | max | p95 | ratio / value | target | met |"
    lines = [head, "|" + "---|" * 11]
    for i, sec in enumerate(doc["sections"], 1):
        lines.append(f"| **{i}** | **{sec['title']}** | | | | | | | | | |")
        for s in sec["series"]:
            u = s["unit"]
            lines.append(
                f"| | {s['label']} | {u} | {s['n']} | {_num(s['median'], u)} | {_num(s['min'], u)} | "
                f"{_num(s['max'], u)} | {_num(s['p95'], u)} | | | |"
            )
        for r in sec["ratios"]:
            lines.append(
                f"| | *{r['label']}* (median {r['numerator']} / median {r['denominator']}) | x | | | | | | "
                f"**{_num(r['value'])}x** | {r['target'] or ''} | {_met(r['met'])} |"
            )
        for c in sec["checks"]:
            lines.append(
                f"| | *{c['label']}* ({c['stat']} of {c['series']}) | | | | | | | **{_num(c['value'])}** | "
                f"{c['target']} | {_met(c['met'])} |"
            )
    notes = [f"- {sec['title']}: {n}" for sec in doc["sections"] for n in sec["notes"]]
    return "\n".join(lines) + ("\n\nNotes:\n" + "\n".join(notes) if notes else "") + "\n"


def write(doc: dict, directory: Path, name: str) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    json_path, md_path = directory / f"{name}.json", directory / f"{name}.md"
    json_path.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    header = [f"# Benchmark, scale {doc.get('scale')}", ""]
    for key in ("command", "machine", "started", "wall_seconds", "datasets"):
        if key in doc:
            value = doc[key]
            if isinstance(value, list):
                value = "; ".join(map(str, value))
            header.append(f"- {key.replace('_', ' ')}: {value}")
    md_path.write_text("\n".join(header) + "\n\n" + markdown(doc))
    return json_path, md_path
