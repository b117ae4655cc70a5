"""Transcript readers: JSON / JSONL, plain text with speaker prefixes, WebVTT, SRT, and CSV with one row per turn.

Every reader yields :class:`~qa_service.schemas.Transcript` or :class:`~qa_service.io.records.BadRecord`
(with its line or record number and the reason), so one bad record never stops the others.
Speaker labels (``Agente:``, ``<v Laura>``, a CSV ``speaker`` value) map to roles through a
:class:`SpeakerMap`; an unknown label is a clear error for that record unless it is mapped.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Iterable, Iterator, Literal

from pydantic import ValidationError

from qa_service.errors import InvalidInputError
from qa_service.io.records import BadRecord, ReadStats, LineDecoder
from qa_service.schemas import Transcript, Turn
from qa_service.text.normalize import scrub

TranscriptFormat = Literal["json", "jsonl", "txt", "vtt", "srt", "csv"]

DEFAULT_SPEAKERS: dict[str, str] = {
    "agente": "agent", "agent": "agent", "asesor": "agent", "asesora": "agent", "operador": "agent",
    "operadora": "agent", "representante": "agent", "rep": "agent",
    "cliente": "customer", "customer": "customer", "client": "customer", "usuario": "customer",
    "usuaria": "customer", "caller": "customer", "user": "customer",
    "sistema": "system", "system": "system", "ivr": "system", "bot": "system",
}


class SpeakerMap:
    """Maps speaker labels (case- and accent-insensitive) to agent | customer | system."""

    def __init__(self, extra: dict[str, str] | None = None) -> None:
        self._map = {k: v for k, v in DEFAULT_SPEAKERS.items()}
        for label, role in (extra or {}).items():
            if role not in ("agent", "customer", "system"):
                raise InvalidInputError(f"speaker map: {label!r} -> {role!r}: role must be agent, customer or system",
                                        "speakers")
            self._map[self._key(label)] = role

    @staticmethod
    def _key(label: str) -> str:
        import unicodedata

        s = unicodedata.normalize("NFKD", label.strip().lower())
        return "".join(c for c in s if not unicodedata.combining(c))

    def role(self, label: str) -> str | None:
        return self._map.get(self._key(label))


def parse_speaker_map(pairs: Iterable[str]) -> dict[str, str]:
    """``["Laura=agent", "Cliente 1=customer"]`` -> dict; a malformed pair is an InvalidInputError."""
    out = {}
    for p in pairs:
        if "=" not in p:
            raise InvalidInputError(f"speaker mapping {p!r} must look like LABEL=agent|customer|system", "speaker")
        label, role = p.rsplit("=", 1)
        out[label.strip()] = role.strip().lower()
    return out


def detect_transcript_format(path: str | Path, declared: str | None = None) -> TranscriptFormat:
    if declared:
        if declared not in ("json", "jsonl", "txt", "vtt", "srt", "csv"):
            raise InvalidInputError(f"unknown transcript format {declared!r}: use json, jsonl, txt, vtt, srt or csv",
                                    "format")
        return declared  # type: ignore[return-value]
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix in ("json", "jsonl", "txt", "vtt", "srt", "csv"):
        return suffix  # type: ignore[return-value]
    if suffix == "ndjson":
        return "jsonl"
    raise InvalidInputError(f"cannot tell the transcript format of {path}: use .json, .jsonl, .txt, .vtt, .srt, .csv "
                            "or --format", "input")


def read_transcripts(path: str | Path, fmt: str | None = None, speakers: SpeakerMap | None = None,
                     stats: ReadStats | None = None) -> Iterator[Transcript | BadRecord]:
    """Yield transcripts (and bad records) from one file."""
    p = Path(path)
    if not p.exists():
        raise InvalidInputError(f"input file not found: {p}", "input")
    kind = detect_transcript_format(p, fmt)
    speakers = speakers or SpeakerMap()
    stats = stats if stats is not None else ReadStats()
    decode = LineDecoder(stats)
    with p.open("rb") as fh:
        lines = (decode(raw) for raw in fh)
        if kind == "json":
            gen = _read_json(lines)
        elif kind == "jsonl":
            gen = _read_jsonl(lines)
        elif kind == "txt":
            gen = _read_txt(lines, p.stem, speakers)
        elif kind in ("vtt", "srt"):
            gen = _read_subtitles(lines, p.stem, speakers, kind)
        else:
            gen = _read_csv(lines, speakers)
        for rec in gen:
            if isinstance(rec, BadRecord):
                stats.skipped[rec.reason.split(":")[0]] += 1
            else:
                stats.read += 1
            yield rec


def _validation_reason(exc: ValidationError) -> str:
    e = exc.errors()[0]
    loc = ""
    for part in e.get("loc", ()):
        loc += f"[{part}]" if isinstance(part, int) else (f".{part}" if loc else str(part))
    return f"invalid transcript: {loc or 'record'}: {e.get('msg', 'invalid')}" + (
        f" (+{len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else "")


def _to_transcript(obj: object, line: int) -> Transcript | BadRecord:
    if not isinstance(obj, dict):
        return BadRecord(line, "invalid transcript: record is not an object")
    try:
        t = Transcript.model_validate(obj)
    except ValidationError as exc:
        return BadRecord(line, _validation_reason(exc))
    for turn in t.turns:
        turn.text = scrub(turn.text)
    return t


def _read_json(lines: Iterable[str | None]) -> Iterator[Transcript | BadRecord]:
    text = "".join(line for line in lines if line is not None)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        yield BadRecord(exc.lineno, f"broken JSON: {exc.msg} at column {exc.colno}")
        return
    items = data if isinstance(data, list) else [data]
    for i, obj in enumerate(items, start=1):
        yield _to_transcript(obj, i)


def _read_jsonl(lines: Iterable[str | None]) -> Iterator[Transcript | BadRecord]:
    for n, line in enumerate(lines, start=1):
        if line is None:
            yield BadRecord(n, "undecodable bytes: not UTF-8 nor Latin-1 text")
            continue
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            yield BadRecord(n, f"broken JSON: {exc.msg} at column {exc.colno}")
            continue
        yield _to_transcript(obj, n)


_STAMP = r"\[?(?P<stamp>\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?)\]?"
_TXT_TURN = re.compile(r"^\s*(?:" + _STAMP + r"\s*)?(?P<label>[^:\[\]]{1,40}?)\s*:\s?(?P<text>.*)$")


def _seconds(stamp: str) -> float:
    parts = [float(p.replace(",", ".")) for p in stamp.split(":")]
    total = 0.0
    for p in parts:
        total = total * 60 + p
    return total


def _read_txt(lines: Iterable[str | None], stem: str, speakers: SpeakerMap) -> Iterator[Transcript | BadRecord]:
    """One transcript per file: ``[hh:mm:ss] Agente: texto``; lines without a prefix continue the previous turn."""
    turns: list[Turn] = []
    errors: list[BadRecord] = []
    for n, line in enumerate(lines, start=1):
        if line is None:
            errors.append(BadRecord(n, "undecodable bytes: not UTF-8 nor Latin-1 text"))
            continue
        line = line.rstrip("\r\n")
        if not line.strip():
            continue
        m = _TXT_TURN.match(line)
        role = speakers.role(m.group("label")) if m else None
        if m and role:
            start = _seconds(m.group("stamp")) if m.group("stamp") else None
            turns.append(Turn(speaker=role, text=scrub(m.group("text").strip()), start=start))
        elif m and not turns:
            errors.append(BadRecord(n, f"unknown speaker: {m.group('label').strip()!r} (map it with --speaker "
                                       f"'{m.group('label').strip()}=agent')"))
        elif turns:
            turns[-1].text = (turns[-1].text + " " + scrub(line.strip())).strip()
        else:
            errors.append(BadRecord(n, "no speaker: the first turn needs a prefix such as 'Agente:' or 'Customer:'"))
    yield from errors
    turns = [t for t in turns if t.text]
    if errors and not turns:
        return
    if not turns:
        yield BadRecord(1, "empty transcript: no turns")
        return
    yield Transcript(id=stem, channel="call", turns=turns)


_CUE_TIME = re.compile(r"(?P<a>(?:\d+:)?\d{1,2}:\d{2}[.,]\d{1,3})\s*-->\s*(?P<b>(?:\d+:)?\d{1,2}:\d{2}[.,]\d{1,3})")
_VOICE = re.compile(r"^<v(?:\.[\w.-]+)?\s+(?P<name>[^>]+)>(?P<text>.*?)(?:</v>)?$")
_TAGS = re.compile(r"</?[^>]+>")


def _read_subtitles(lines: Iterable[str | None], stem: str, speakers: SpeakerMap, kind: str
                    ) -> Iterator[Transcript | BadRecord]:
    """WebVTT or SRT cues; the speaker comes from a ``<v Name>`` voice tag or a ``Name:`` prefix."""
    turns: list[Turn] = []
    cue: dict | None = None
    errors: list[BadRecord] = []

    def flush() -> None:
        if cue is None or not cue["text"]:
            return
        text = " ".join(cue["text"]).strip()
        name = None
        m = _VOICE.match(text)
        if m:
            name, text = m.group("name").strip(), m.group("text")
        else:
            m2 = re.match(r"^(?P<name>[^:]{1,40}?):\s*(?P<text>.*)$", text)
            if m2 and speakers.role(m2.group("name")):
                name, text = m2.group("name").strip(), m2.group("text")
        text = scrub(_TAGS.sub("", text).strip())
        if not text:
            return
        if name is None:
            errors.append(BadRecord(cue["line"], "no speaker: cue has neither a <v Name> tag nor a 'Name:' prefix"))
            return
        role = speakers.role(name)
        if role is None:
            errors.append(BadRecord(cue["line"], f"unknown speaker: {name!r} (map it with --speaker '{name}=agent')"))
            return
        if turns and turns[-1].speaker == role and turns[-1].end is not None and cue["start"] - turns[-1].end < 1.0:
            turns[-1].text += " " + text  # a turn split over consecutive cues
            turns[-1].end = cue["end"]
        else:
            turns.append(Turn(speaker=role, text=text, start=cue["start"], end=cue["end"]))

    for n, line in enumerate(lines, start=1):
        if line is None:
            errors.append(BadRecord(n, "undecodable bytes: not UTF-8 nor Latin-1 text"))
            continue
        line = line.strip("\r\n\ufeff")
        if n == 1 and kind == "vtt":
            if not line.startswith("WEBVTT"):
                yield BadRecord(1, "not WebVTT: the file must start with 'WEBVTT'")
                return
            continue
        m = _CUE_TIME.search(line)
        if m:
            flush()
            start, end = _seconds(m.group("a")), _seconds(m.group("b"))
            cue = {"line": n, "start": start, "end": max(end, start), "text": []}
        elif not line.strip():
            flush()
            cue = None
        elif cue is not None:
            cue["text"].append(line.strip())
    flush()
    yield from errors
    if turns:
        yield Transcript(id=stem, channel="call", turns=turns)
    elif not errors:
        yield BadRecord(1, "empty transcript: no cues")


def _read_csv(lines: Iterable[str | None], speakers: SpeakerMap) -> Iterator[Transcript | BadRecord]:
    """One row per turn: conversation_id, speaker, text, and start/end or at; rows grouped by conversation."""
    good_lines = (line for line in lines if line is not None)
    reader = csv.DictReader(good_lines)
    need = {"conversation_id", "speaker", "text"}
    if reader.fieldnames is None:
        return
    missing = need - {f.strip() for f in reader.fieldnames}
    if missing:
        raise InvalidInputError(f"transcript CSV lacks column(s): {', '.join(sorted(missing))} "
                                f"(columns: {', '.join(reader.fieldnames)})", "input")
    convs: dict[str, list[dict]] = {}
    bad: dict[str, BadRecord] = {}
    meta_cols = [c for c in reader.fieldnames if c not in need | {"start", "end", "at", "channel", "agent_id", "team",
                                                                  "language"}]
    extras: dict[str, dict] = {}
    for row in reader:
        line = reader.line_num
        cid = (row.get("conversation_id") or "").strip()
        if not cid:
            yield BadRecord(line, "missing field: no conversation_id")
            continue
        if cid in bad:
            continue
        role = speakers.role(row.get("speaker") or "")
        if role is None:
            bad[cid] = BadRecord(line, f"unknown speaker: {row.get('speaker')!r} in conversation {cid} "
                                       f"(map it with --speaker '{row.get('speaker')}=agent')")
            convs.pop(cid, None)
            continue
        turn: dict = {"speaker": role, "text": scrub(row.get("text") or "")}
        for k in ("start", "end", "at"):
            v = (row.get(k) or "").strip()
            if v:
                turn[k] = v
        convs.setdefault(cid, []).append({"line": line, "turn": turn})
        extras.setdefault(cid, {"channel": (row.get("channel") or "").strip() or None,
                                "agent": {"id": (row.get("agent_id") or "").strip() or None,
                                          "team": (row.get("team") or "").strip() or None},
                                "language": (row.get("language") or "").strip() or None,
                                "metadata": {c: row.get(c) for c in meta_cols if row.get(c)}})
    yield from bad.values()
    for cid, rows in convs.items():
        ex = extras[cid]
        obj = {"id": cid, "turns": [r["turn"] for r in rows if r["turn"]["text"].strip()], "agent": ex["agent"],
               "metadata": ex["metadata"]}
        if ex["channel"]:
            obj["channel"] = ex["channel"]
        if ex["language"]:
            obj["language"] = ex["language"]
        if any("at" in r["turn"] for r in rows) and "channel" not in obj:
            obj["channel"] = "chat"
        yield _to_transcript(obj, rows[0]["line"])


def looks_like_transcripts(path: str | Path) -> bool:
    """True when a file holds transcripts rather than comments: subtitles, JSON records with ``turns``, or plain
    text with speaker prefixes."""
    path = Path(path)
    if path.suffix.lower() in (".vtt", ".srt"):
        return True
    if path.suffix.lower() in (".jsonl", ".json"):
        with path.open(encoding="utf-8", errors="replace") as fh:
            for line in fh:
                line = line.strip().lstrip("[")
                if line:
                    try:
                        return "turns" in json.loads(line.rstrip(","))
                    except json.JSONDecodeError:
                        return '"turns"' in line
    if path.suffix.lower() == ".txt":
        with path.open(encoding="utf-8", errors="replace") as fh:
            head = fh.read(2000).lower()
        return any(p in head for p in ("agente:", "cliente:", "agent:", "customer:"))
    return False
