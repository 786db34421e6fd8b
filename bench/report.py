"""The result table: rows of (scenario, figure, value) with the raw numbers kept for JSON."""

from __future__ import annotations

import json
import math
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Row:
    scenario: str
    figure: str
    value: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Report:
    quick: bool
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.time)

    def add(self, scenario: str, figure: str, value: str, **data: Any) -> None:
        self.rows.append(Row(scenario, figure, value, data))

    def note(self, text: str) -> None:
        self.notes.append(text)

    def table(self) -> str:
        headers = ("scenario", "figure", "value")
        cells = [(row.scenario, row.figure, row.value) for row in self.rows]
        widths = [max([len(h)] + [len(c[i]) for c in cells]) for i, h in enumerate(headers)]
        lines = [f"Portrait Bot benchmarks - {machine_line()}{' (--quick)' if self.quick else ''}"]
        rule = "  ".join("-" * w for w in widths)
        lines += [_line(headers, widths), rule]
        previous = None
        for cell in cells:
            shown = ("" if cell[0] == previous else cell[0], cell[1], cell[2])
            previous = cell[0]
            lines.append(_line(shown, widths))
        lines.append(rule)
        lines += [f"note: {text}" for text in self.notes]
        lines.append(f"total bench time: {time.time() - self.started:.0f} s")
        return "\n".join(lines)

    def as_json(self) -> str:
        return json.dumps(
            {
                "machine": machine(),
                "quick": self.quick,
                "rows": [
                    {"scenario": r.scenario, "figure": r.figure, "value": r.value, **r.data}
                    for r in self.rows
                ],
                "notes": self.notes,
                "seconds": round(time.time() - self.started, 1),
            },
            indent=2,
            default=_plain,
        )


def _line(cells: tuple[str, ...], widths: list[int]) -> str:
    return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()


def _plain(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    return str(value)


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(
                (line.split(":", 1)[1].strip() for line in info if line.startswith("model name")),
                cpu,
            )
    except OSError:
        pass
    ram = 0
    try:
        with open("/proc/meminfo") as info:
            ram = int(next(line for line in info if line.startswith("MemTotal")).split()[1])
    except (OSError, StopIteration):
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu,
        "ram_gib": round(ram / 1024 / 1024, 1),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
    }


def machine_line() -> str:
    m = machine()
    return (
        f"{m['date']}, {m['cpus']} CPUs ({m['cpu_model']}), {m['ram_gib']} GiB RAM, "
        f"Python {m['python']}"
    )
