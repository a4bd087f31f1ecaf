"""The two export files, written row by row as the rows stream in: one JSON, one Markdown.

Nothing is held but the row in hand (and, for a grouped section, whose group it is in): the JSON
is written as text, an object's opening before its members, so no document is ever built.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

from bot.export.sections import Row, Section

FILE_BUFFER = 256 * 1024


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not exported")


def _json(value: Any) -> str:
    return json.dumps(value, default=_plain, ensure_ascii=False)


@dataclass
class ExportCounts:
    """How much went into the files (for the coach's message and a log line: counts only)."""

    rows: int = 0
    sections: int = 0


class ExportWriter:
    """Writes ``<stem>.json`` and ``<stem>.md`` in ``directory``; ``close`` finishes both."""

    def __init__(self, directory: Path, stem: str) -> None:
        self.json_path = directory / f"{stem}.json"
        self.markdown_path = directory / f"{stem}.md"
        self._json: IO[str] = self.json_path.open("w", encoding="utf-8", buffering=FILE_BUFFER)
        self._md: IO[str] = self.markdown_path.open("w", encoding="utf-8", buffering=FILE_BUFFER)
        self.counts = ExportCounts()

    def header(self, about: dict[str, Any], title: str, intro: str) -> None:
        self._json.write("{\n" + _json("export") + ": " + _json(about))
        self._md.write(f"# {title}\n\n{intro}\n")

    async def section(self, section: Section, rows: AsyncIterator[Row]) -> None:
        """One section from its stream of rows, into both files."""
        self.counts.sections += 1
        self._json.write(",\n" + _json(section.key) + ": [")
        self._md.write(f"\n## {section.title}\n\n")
        written = await (self._grouped(section, rows) if section.group else self._flat(section, rows))
        self._json.write("\n]" if written else "]")
        if not written:
            self._md.write(f"{section.empty}\n")

    async def _flat(self, section: Section, rows: AsyncIterator[Row]) -> int:
        written = 0
        async for row in rows:
            self._json.write(("\n" if not written else ",\n") + _json(row))
            self._md.write(section.markdown(row) + "\n")
            written += 1
        self.counts.rows += written
        return written

    async def _grouped(self, section: Section, rows: AsyncIterator[Row]) -> int:
        group = section.group
        assert group is not None
        parents = children = 0
        current: Any = None
        async for row in rows:
            if parents == 0 or row[group.key] != current:
                if parents:
                    self._json.write("\n]}" if children else "]}")
                current, children = row[group.key], 0
                parent = _json({name: row[name] for name in group.parent})
                self._json.write(
                    ("\n" if not parents else ",\n") + parent[:-1] + ", " + _json(group.children) + ": ["
                )
                self._md.write(group.heading(row) + "\n")
                parents += 1
                self.counts.rows += 1
            if row[group.child_key] is None:
                continue
            child = {name: value for name, value in row.items() if name not in group.parent}
            self._json.write(("\n" if not children else ",\n") + _json(child))
            self._md.write(section.markdown(row) + "\n")
            children += 1
            self.counts.rows += 1
        if parents:
            self._json.write("\n]}" if children else "]}")
        return parents

    def close(self) -> None:
        """Finish both documents (the JSON's closing brace) and close the files."""
        if not self._json.closed:
            self._json.write("\n}\n")
            self._json.close()
        if not self._md.closed:
            self._md.close()

    def abandon(self) -> None:
        """Close both files after a failure (they are deleted with their directory)."""
        self._json.close()
        self._md.close()
