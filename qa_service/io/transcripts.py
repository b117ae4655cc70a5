"""Transcript readers: JSON / JSONL, plain text with speaker prefixes, WebVTT, SRT, and CSV with one row per turn.

Every reader yields :class:`~qa_service.schemas.Transcript` or :class:`~qa_service.io.records.BadRecord`
(with its line or record number and the reason), so one bad record never stops the others.
Speaker labels (``Agente:``, ``<v Laura>``, a CSV ``speaker`` value) map to roles through a
:class:`SpeakerMap`. A turn is never attributed by guess: a line or cue whose label is not mapped rejects its
transcript with one error per unknown label, naming it with its first line and a suggested ``--speaker`` flag
(agent, customer or system, from where the label speaks); a timestamped line without a known speaker is an
error too. Only plain-text lines with neither a label nor a timestamp continue the previous turn. A
single-transcript file (plain text, WebVTT, SRT) with any rejected line is not returned at all, since its
verdicts would rest on part of the call; an empty file is a bad record.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
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


# Words that name a third party on the call: suggested as ``system`` turns.
_THIRD_PARTY = {"supervisor", "supervisora", "coordinador", "coordinadora", "jefe", "jefa", "responsable",
                "manager", "team lead", "teamlead", "lead", "interprete", "interpreter", "grabacion", "recording",
                "locucion", "mensaje", "message", "announcement", "anuncio"}
_LABEL_FORBIDDEN = re.compile(r"[,;!?¿¡\"«»()/@#*=<>{}]")


def looks_like_speaker(label: str, stamped: bool = False) -> bool:
    """Whether the text before a ``:`` is a speaker label rather than part of a sentence: 1-4 words starting
    with a letter, no sentence punctuation, and (without a timestamp) one word or every word capitalised
    (``Pedro``, ``Cliente 2``, ``SUPERVISOR``, ``Sra. García``; not ``le explico``)."""
    label = label.strip()
    words = label.split()
    if not words or len(words) > 4 or len(label) > 40 or not label[0].isalpha() or _LABEL_FORBIDDEN.search(label):
        return False
    if stamped or len(words) == 1:
        return True
    return all(w[0].isupper() or not w[0].isalpha() for w in words)


def speaker_flag(label: str, role: str) -> str:
    """The exact option to type: ``--speaker Pedro=customer`` (quoted when the label has spaces)."""
    import shlex

    return f"--speaker {shlex.quote(f'{label}={role}')}"


def suggest_roles(sequence: list[tuple[str, str | None]]) -> dict[str, tuple[str, str]]:
    """For each unknown label of a conversation, a likely role and why, from where it speaks.

    ``sequence``: (label, role or None when unknown) of every turn in order. A label that alternates with the
    known agent is the customer (and vice versa); with both parties known, a further voice is ``system``; with
    no known party, the first to speak is the agent (it answers the call) and the next the customer. Names of
    third parties (``Supervisor``) are ``system``. Returns {label: (role, reason)}."""
    unknown: dict[str, dict] = {}
    for i, (label, role) in enumerate(sequence):
        if role is not None:
            continue
        u = unknown.setdefault(label, {"n": 0, "first": i, "agent": 0, "customer": 0})
        u["n"] += 1
        for j in (i - 1, i + 1):
            if 0 <= j < len(sequence) and sequence[j][1] in ("agent", "customer"):
                u[sequence[j][1]] += 1
    known = {r for _, r in sequence if r in ("agent", "customer")}
    out: dict[str, tuple[str, str]] = {}
    rest = []
    for label, u in unknown.items():
        if SpeakerMap._key(label) in _THIRD_PARTY:
            out[label] = ("system", "a third party on the call, neither the agent nor the customer")
        else:
            rest.append(label)
    missing = [r for r in ("agent", "customer") if r not in known]
    if not missing:
        for label in rest:
            out[label] = ("system", "the call already has an agent and a customer")
        return out
    if len(missing) == 1:
        role = missing[0]
        other = "customer" if role == "agent" else "agent"
        order = sorted(rest, key=lambda lb: (-unknown[lb]["n"], unknown[lb]["first"]))
        for k, label in enumerate(order):
            if k == 0:
                why = f"it alternates with the {other}" if unknown[label][other] else f"the call has no {role} yet"
                out[label] = (role, why)
            else:
                out[label] = ("system", f"a further voice: {order[0]!r} is more likely the {role}")
        return out
    order = sorted(rest, key=lambda lb: unknown[lb]["first"])
    for k, label in enumerate(order):
        if k == 0:
            out[label] = ("agent", "it speaks first, as the agent who answers does")
        elif k == 1:
            out[label] = ("customer", f"it alternates with {order[0]!r}")
        else:
            out[label] = ("system", "a third voice")
    return out


def unknown_speaker_errors(sequence: list[tuple[int, str, str | None]], where: str = "") -> list[BadRecord]:
    """One bad record per unknown label of a conversation: its first line, how many lines, a suggested role and
    the exact ``--speaker`` flag. ``sequence``: (line, label, role or None) of every turn in order."""
    suggestions = suggest_roles([(label, role) for _, label, role in sequence])
    first: dict[str, list[int]] = {}
    for line, label, role in sequence:
        if role is None:
            first.setdefault(label, []).append(line)
    out = []
    for label, lines in first.items():
        role, why = suggestions[label]
        more = f" (and {len(lines) - 1} more line(s))" if len(lines) > 1 else ""
        who = "a system (third-party) voice" if role == "system" else f"the {role}"
        out.append(BadRecord(lines[0], f"unknown speaker: {label!r} on line {lines[0]}{more}{where} is not mapped "
                                       f"to agent, customer or system; likely {who} ({why}): add "
                                       f"{speaker_flag(label, role)}"))
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


TRANSCRIPT_SUFFIXES = (".json", ".jsonl", ".ndjson", ".txt", ".vtt", ".srt", ".csv")


@dataclass
class TranscriptInputs:
    """What ``score a.txt 'calls/*.vtt' exports/`` names: the files in order (each once), the inputs that named
    none (with why), and per directory how many files it holds that are not transcripts (left aside)."""

    files: list[Path] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)
    ignored: dict[str, int] = field(default_factory=dict)


def expand_inputs(inputs: Iterable[str], exclude: Iterable[str | Path | None] = ()) -> TranscriptInputs:
    """Files, glob patterns (``*``, ``?``, ``[...]``, ``**``; expanded here too, for shells that do not) and
    directories (their transcript files by suffix, sorted, not recursive), in the order given; a file named twice
    is read once, and ``exclude`` (the command's own output files) is never read."""
    import glob

    out = TranscriptInputs()
    skip = {Path(e).resolve() for e in exclude if e not in (None, "-")}
    seen: set[Path] = set()

    def add(path: Path) -> None:
        key = path.resolve()
        if key not in seen and key not in skip:
            seen.add(key)
            out.files.append(path)

    def add_dir(d: Path) -> None:
        kids = sorted((c for c in d.iterdir() if c.is_file() and not c.name.startswith(".")), key=lambda c: c.name)
        found = [c for c in kids if c.suffix.lower() in TRANSCRIPT_SUFFIXES]
        if len(kids) > len(found):
            out.ignored[str(d)] = len(kids) - len(found)
        if not found:
            out.problems.append((str(d), f"no transcript file ({', '.join(TRANSCRIPT_SUFFIXES)}) in the directory"))
        for c in found:
            add(c)

    for arg in inputs:
        path = Path(arg)
        if path.is_dir():
            add_dir(path)
        elif path.exists():
            add(path)
        elif re.search(r"[*?\[]", arg):
            matches = sorted(glob.glob(arg, recursive=True))
            if not matches:
                out.problems.append((arg, "no file matches the pattern"))
            for m in matches:
                (add_dir if Path(m).is_dir() else add)(Path(m))
        else:
            out.problems.append((arg, "input file not found"))
    return out


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
        empty = True
        for rec in gen:
            empty = False
            if isinstance(rec, BadRecord):
                stats.skipped[rec.reason.split(":")[0]] += 1
            else:
                stats.read += 1
            yield rec
        if empty:  # an empty file is an error, never "nothing to do"
            stats.skipped["empty file"] += 1
            yield BadRecord(1, "empty file: no transcripts")


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


_LEAD_STAMP = re.compile(r"^\s*(?:\[(?P<b>\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?)\]|"
                         r"(?P<s>\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?)(?=\s|$))\s*")
_LABEL = re.compile(r"^(?P<label>[^:\[\]]{1,40}?)\s*:(?!//)\s?(?P<text>.*)$")


def _seconds(stamp: str) -> float:
    parts = [float(p.replace(",", ".")) for p in stamp.split(":")]
    total = 0.0
    for p in parts:
        total = total * 60 + p
    return total


def _split_line(line: str) -> tuple[float | None, str | None, str]:
    """``[00:00:18] Pedro: texto`` -> (18.0, 'Pedro', 'texto'); the label is None when the text before a ``:``
    does not look like a speaker (see :func:`looks_like_speaker`)."""
    m = _LEAD_STAMP.match(line)
    stamp = None
    if m:
        stamp = _seconds(m.group("b") or m.group("s"))
        line = line[m.end():]
    lm = _LABEL.match(line)
    if lm and looks_like_speaker(lm.group("label"), stamped=stamp is not None):
        return stamp, lm.group("label").strip(), lm.group("text").strip()
    return stamp, None, line.strip()


def _read_txt(lines: Iterable[str | None], stem: str, speakers: SpeakerMap) -> Iterator[Transcript | BadRecord]:
    """One transcript per file: ``[hh:mm:ss] Agente: texto``. A line with neither a label nor a timestamp
    continues the previous turn; an unknown label or a timestamp without a speaker rejects the file's transcript
    (never glued onto the previous turn)."""
    turns: list[Turn] = []
    errors: list[BadRecord] = []
    sequence: list[tuple[int, str, str | None]] = []  # (line, label, role) of every labelled line
    for n, line in enumerate(lines, start=1):
        if line is None:
            errors.append(BadRecord(n, "undecodable bytes: not UTF-8 nor Latin-1 text"))
            continue
        line = line.rstrip("\r\n")
        if not line.strip():
            continue
        stamp, label, text = _split_line(line)
        if label is not None:
            role = speakers.role(label)
            sequence.append((n, label, role))
            if role:
                turns.append(Turn(speaker=role, text=scrub(text), start=stamp))  # type: ignore[arg-type]
            else:
                turns.append(Turn(speaker="system", text=""))  # a placeholder: the transcript is rejected
        elif stamp is not None:
            errors.append(BadRecord(n, f"no speaker: line {n} has a timestamp but no known 'Label:' (e.g. "
                                       "'[00:00:05] Cliente: ...'); it cannot be attributed to anyone"))
        elif turns:
            turns[-1].text = (turns[-1].text + " " + scrub(line.strip())).strip()
        else:
            errors.append(BadRecord(n, f"no speaker: line {n} comes before any 'Label:' turn (the first turn needs "
                                       "a prefix such as 'Agente:' or 'Customer:')"))
    errors += unknown_speaker_errors(sequence)
    if errors:
        yield from sorted(errors, key=lambda b: b.line)
        return
    turns = [t for t in turns if t.text]
    if not turns:
        yield BadRecord(1, "empty file: no turns" if not sequence else "empty transcript: no turn has text")
        return
    yield Transcript(id=stem, channel="call", turns=turns)


_CUE_TIME = re.compile(r"(?P<a>(?:\d+:)?\d{1,2}:\d{2}[.,]\d{1,3})\s*-->\s*(?P<b>(?:\d+:)?\d{1,2}:\d{2}[.,]\d{1,3})")
_VOICE = re.compile(r"^<v(?:\.[\w.-]+)?\s+(?P<name>[^>]+)>(?P<text>.*?)(?:</v>)?$")
_TAGS = re.compile(r"</?[^>]+>")


def _read_subtitles(lines: Iterable[str | None], stem: str, speakers: SpeakerMap, kind: str
                    ) -> Iterator[Transcript | BadRecord]:
    """WebVTT or SRT cues; the speaker comes from a ``<v Name>`` voice tag or a ``Name:`` prefix. A cue whose
    speaker is missing or unknown rejects the file's transcript (cues are timed: none continues another)."""
    turns: list[Turn] = []
    cue: dict | None = None
    errors: list[BadRecord] = []
    sequence: list[tuple[int, str, str | None]] = []

    def flush() -> None:
        if cue is None or not cue["text"]:
            return
        text = " ".join(cue["text"]).strip()
        name = None
        m = _VOICE.match(text)
        if m:
            name, text = m.group("name").strip(), m.group("text")
        else:
            m2 = _LABEL.match(_TAGS.sub("", text))
            if m2 and looks_like_speaker(m2.group("label"), stamped=True):
                name, text = m2.group("label").strip(), m2.group("text")
        text = scrub(_TAGS.sub("", text).strip())
        if not text:
            return
        if name is None:
            errors.append(BadRecord(cue["line"], f"no speaker: the cue at line {cue['line']} has neither a "
                                                 "<v Name> tag nor a 'Name:' prefix; it cannot be attributed"))
            return
        role = speakers.role(name)
        sequence.append((cue["line"], name, role))
        if role is None:
            return
        if turns and turns[-1].speaker == role and turns[-1].end is not None and cue["start"] - turns[-1].end < 1.0:
            turns[-1].text += " " + text  # a turn split over consecutive cues
            turns[-1].end = cue["end"]
        else:
            turns.append(Turn(speaker=role, text=text, start=cue["start"], end=cue["end"]))  # type: ignore[arg-type]

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
            if not cue["text"]:
                cue["line"] = n  # errors point at the cue's text, where its speaker is written
            cue["text"].append(line.strip())
    flush()
    errors += unknown_speaker_errors(sequence)
    if errors:
        yield from sorted(errors, key=lambda b: b.line)
    elif turns:
        yield Transcript(id=stem, channel="call", turns=turns)
    else:
        yield BadRecord(1, "empty file: no cues")


def _read_csv(lines: Iterable[str | None], speakers: SpeakerMap) -> Iterator[Transcript | BadRecord]:
    """One row per turn: conversation_id, speaker, text, and start/end or at; rows grouped by conversation."""
    undecodable: list[BadRecord] = []

    def good_lines() -> Iterator[str]:
        for n, line in enumerate(lines, start=1):
            if line is None:
                undecodable.append(BadRecord(n, "undecodable bytes: not UTF-8 nor Latin-1 text"))
            else:
                yield line

    reader = csv.DictReader(good_lines())
    need = {"conversation_id", "speaker", "text"}
    if reader.fieldnames is None:
        return
    missing = need - {f.strip() for f in reader.fieldnames}
    if missing:
        raise InvalidInputError(f"transcript CSV lacks column(s): {', '.join(sorted(missing))} "
                                f"(columns: {', '.join(reader.fieldnames)})", "input")
    convs: dict[str, list[dict]] = {}
    meta_cols = [c for c in reader.fieldnames if c not in need | {"start", "end", "at", "channel", "agent_id", "team",
                                                                  "language"}]
    extras: dict[str, dict] = {}
    for row in reader:
        line = reader.line_num
        cid = (row.get("conversation_id") or "").strip()
        if not cid:
            yield BadRecord(line, "missing field: no conversation_id")
            continue
        label = (row.get("speaker") or "").strip()
        role = speakers.role(label) if label else None
        turn: dict = {"speaker": role, "label": label, "text": scrub(row.get("text") or "")}
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
    yield from undecodable
    for cid, rows in convs.items():
        unknown = [BadRecord(r["line"], f"missing field: no speaker on line {r['line']} in conversation {cid}")
                   for r in rows if not r["turn"]["label"]]
        unknown += unknown_speaker_errors([(r["line"], r["turn"]["label"], r["turn"]["speaker"]) for r in rows
                                           if r["turn"]["label"]], f" in conversation {cid}")
        if unknown:  # the conversation is rejected whole: no turn is attributed by guess
            yield from unknown
            continue
        ex = extras[cid]
        turns = [{k: v for k, v in r["turn"].items() if k != "label"} for r in rows if r["turn"]["text"].strip()]
        obj = {"id": cid, "turns": turns, "agent": ex["agent"],
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
