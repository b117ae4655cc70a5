"""Sensitive data in calls and chats: recall and false alarms of the sensitive-data detection, and agreement of the
critical criterion (``sin_datos_sensibles`` / ``no_sensitive_data``) with the labels.

    python -m eval.sensitive                       # writes eval/reports/sensitive-data.md and .json
    python -m eval.sensitive --criterion-only --json OUT.json    # only the criterion's agreement (runs on older
                                                                 # commits too: how the baseline is measured)
    python -m eval.sensitive --baseline OUT.json   # adds a baseline measured that way to the report

Data: ``eval/transcripts/blind-*.jsonl``, written blind to the rubric. Each transcript carries ``sensitive``, a list
of ``{turn, type, spoken, full}`` written by its authors (where a card, national id, IBAN, SSN, bank account, CVV,
PIN, password, phone or e-mail is said or typed, whether it was spoken, whether it was given in full), the label of
the sensitive-data criterion and the turns the authors cite as its ``evidence``. Nothing here reads the rubric's
examples: the rubric is used only for its sensitive-data detector (which entities it looks for) and its scorer.

Measured, per turn, with the detector the rubric ships (``find_pii`` on every turn, the two turns before as
context, all speakers, so customer turns count for the recogniser):

* recall of full identifiers (``full: true``; card, national id, IBAN, SSN, account) by type and spoken/written;
* partial identifiers flagged (``full: false``: "ending in 6467"): should stay unflagged;
* requests for a CVV, PIN or password: the authors did not mark requests separately, so the reference is derived
  from their labels: an agent turn they cite as evidence of a failed criterion that holds no full identifier is a
  *request turn*; its type is what the customer gives in the 3 turns after it (cvv, pin, password, another
  identifier) or ``unanswered``. Recall is given per turn and per transcript (a failed transcript whose agent
  never read a full identifier out is caught when any of its request turns is flagged);
* false alarms: turns with no sensitive item of a targeted type and not a request turn (phone numbers and e-mails
  included) where the detector finds anything, for agent turns (what the criterion sees) and all turns.

An independent check runs the detector on MultiDoGO's slot-labelled English customer chat turns (when
``../shared/data/multidogo`` is there): full card numbers and SSNs found, partial ones and turns without any left
alone.

Then the criterion: the rubric's scorer (no encoder needed: the criterion has only the ``pii`` detector) against
the labels, as accuracy, Cohen's kappa and fail precision/recall, per language variety and clean vs ASR-like.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections import defaultdict
from pathlib import Path
from eval.provenance import git_commit

ROOT = Path(__file__).resolve().parent.parent
DATA = sorted((ROOT / "eval" / "transcripts").glob("blind-*.jsonl"))
REPORTS = ROOT / "eval" / "reports"
COMMAND = "python -m eval.sensitive"
CRITERIA = ("sin_datos_sensibles", "no_sensitive_data")
IDENTIFIER_TYPES = ("card", "national_id", "iban", "ssn", "account")
SECRET_TYPES = ("cvv", "pin", "password")
TARGETED = IDENTIFIER_TYPES + SECRET_TYPES
REQUEST_LOOKAHEAD = 3


def _commit() -> str:
    return git_commit(dirty_mark="+uncommitted changes", exclude=["eval/reports"])


def load(paths: list[Path] = DATA) -> list[dict]:
    rows = []
    for p in paths:
        for line in p.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                row["_file"] = p.name
                rows.append(row)
    return rows


def _criterion(row: dict) -> str:
    return next(c for c in CRITERIA if c in row["labels"])


def _rubric_name(row: dict) -> str:
    return "default-en" if row["language"] == "en" else "default-es"


def wilson(k: int, n: int) -> tuple[float | None, float | None]:
    """95% Wilson interval of a proportion k/n."""
    if n == 0:
        return None, None
    z = 1.96
    p = k / n
    d = 1 + z * z / n
    c = p + z * z / (2 * n)
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, round((c - h) / d, 6)), min(1.0, round((c + h) / d, 6))


def _rate(k: int, n: int) -> dict:
    lo, hi = wilson(k, n)
    return {"hits": k, "n": n, "rate": round(k / n, 6) if n else None, "ci95": [lo, hi]}


def kappa(a: list[str], b: list[str]) -> float | None:
    """Cohen's kappa of two label lists."""
    n = len(a)
    if not n:
        return None
    labels = sorted(set(a) | set(b))
    po = sum(x == y for x, y in zip(a, b)) / n
    pe = sum((a.count(lab) / n) * (b.count(lab) / n) for lab in labels)
    return round((po - pe) / (1 - pe), 3) if pe < 1 else None


# ----------------------------------------------------------------------------- criterion level
def criterion_agreement(rows: list[dict]) -> dict:
    """The shipped rubrics' sensitive-data criterion against the labels (works on older commits: it uses only
    the scorer and the rubric loader)."""
    from qa_service.config import Settings
    from qa_service.io.rubrics import load_rubric
    from qa_service.pipelines.rubric import RubricScorer
    from qa_service.schemas import Transcript

    settings = Settings()
    scorers: dict[str, RubricScorer] = {}
    pairs = []
    for row in rows:
        name = _rubric_name(row)
        if name not in scorers:
            scorers[name] = RubricScorer(load_rubric(name, settings.rubrics_dir))
        t = Transcript.model_validate({k: row[k] for k in ("id", "channel", "language", "turns") if k in row})
        crit = _criterion(row)
        got = next(c for c in scorers[name].score(t).criteria if c.id == crit)
        pairs.append({"id": row["id"], "variety": row.get("variety") or row["language"],
                      "asr": bool(row.get("asr_noise")), "label": row["labels"][crit], "scored": got.result,
                      "evidence": [[e.turn, e.label] for e in got.evidence]})

    def summary(ps: list[dict]) -> dict:
        lab = [p["label"] for p in ps]
        got = [p["scored"] for p in ps]
        tp = sum(x == y == "fail" for x, y in zip(lab, got))
        fails = lab.count("fail")
        flagged = got.count("fail")
        return {"n": len(ps), "accuracy": round(sum(x == y for x, y in zip(lab, got)) / len(ps), 3) if ps else None,
                "kappa": kappa(lab, got), "fail_recall": _rate(tp, fails), "fail_precision": _rate(tp, flagged),
                "confusion": {f"{x}->{y}": sum(1 for p in ps if p["label"] == x and p["scored"] == y)
                              for x in ("pass", "fail") for y in ("pass", "fail", "na")}}

    groups: dict[str, list[dict]] = defaultdict(list)
    for p in pairs:
        groups[p["variety"]].append(p)
        groups["asr" if p["asr"] else "clean"].append(p)
    rubrics = {name: {"version": s.rubric.version} for name, s in scorers.items()}
    return {"overall": summary(pairs), "groups": {k: summary(v) for k, v in sorted(groups.items())},
            "rubrics": rubrics,
            "misses": [p for p in pairs if p["label"] != p["scored"]]}


# ----------------------------------------------------------------------------- detector level
def request_turns(row: dict) -> dict[int, str]:
    """Agent turns the authors cite for a failed criterion that hold no full identifier -> the type of what the
    customer gives in the next turns (a secret or identifier type) or ``unanswered``."""
    crit = _criterion(row)
    if row["labels"][crit] != "fail":
        return {}
    full_at = {s["turn"] for s in row.get("sensitive", []) if s["full"] and s["type"] in IDENTIFIER_TYPES}
    out = {}
    for i in row.get("evidence", {}).get(crit, []):
        if row["turns"][i]["speaker"] != "agent" or i in full_at:
            continue
        given = [s["type"] for s in row.get("sensitive", [])
                 if i < s["turn"] <= i + REQUEST_LOOKAHEAD and row["turns"][s["turn"]]["speaker"] == "customer"
                 and s["type"] in TARGETED]
        secret = [g for g in given if g in SECRET_TYPES]
        out[i] = secret[0] if secret else (given[0] if given else "unanswered")
    return out


def detector_measures(rows: list[dict]) -> dict:
    from qa_service.config import Settings
    from qa_service.io.rubrics import load_rubric
    from qa_service.pipelines.rubric.detectors import CONTEXT_TURNS, CREDENTIAL_ENTITIES, find_pii

    settings = Settings()
    entities = {}
    for name in ("default-es", "default-en"):
        rubric = load_rubric(name, settings.rubrics_dir)
        crit = next(c for s in rubric.sections for c in s.criteria if c.id in CRITERIA)
        entities[name] = [e for d in crit.detectors if d.type == "pii" for e in d.entities]
    ident_hit: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    partial = [0, 0]
    req_turn: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    req_tx = [0, 0]
    fa_agent = [0, 0]
    fa_all = [0, 0]
    fa_by_label: dict[str, int] = defaultdict(int)
    phone_email_flagged = [0, 0]
    false_alarms, missed = [], []
    t0 = time.perf_counter()
    n_turns = 0
    for row in rows:
        ents = entities[_rubric_name(row)]
        turns = row["turns"]
        found = {}
        for i, t in enumerate(turns):
            context = " ".join(turns[k]["text"] for k in range(max(0, i - CONTEXT_TURNS), i))
            found[i] = find_pii(t["text"], ents, context=context, language=row["language"])
            n_turns += 1
        ids_at = {i: [f for f in fs if f[2] not in CREDENTIAL_ENTITIES] for i, fs in found.items()}
        secrets_at = {i: [f for f in fs if f[2] in CREDENTIAL_ENTITIES] for i, fs in found.items()}
        items = row.get("sensitive", [])
        for s in items:
            if s["type"] not in IDENTIFIER_TYPES:
                continue
            if s["full"]:
                key = (s["type"], "spoken" if s["spoken"] else "written", turns[s["turn"]]["speaker"])
                hit = bool(ids_at[s["turn"]])
                ident_hit[key][0] += hit
                ident_hit[key][1] += 1
                if not hit:
                    missed.append({"id": row["id"], "turn": s["turn"], "type": s["type"], "spoken": s["spoken"],
                                   "speaker": turns[s["turn"]]["speaker"]})
            else:
                partial[0] += bool(ids_at[s["turn"]])
                partial[1] += 1
        reqs = request_turns(row)
        for i, kind in reqs.items():
            hit = bool(secrets_at[i])
            req_turn[kind][0] += hit
            req_turn[kind][1] += 1
            if not hit:
                missed.append({"id": row["id"], "turn": i, "type": f"request ({kind})", "speaker": "agent"})
        if reqs:
            req_tx[0] += any(secrets_at[i] for i in reqs)
            req_tx[1] += 1
        targeted_turns = {s["turn"] for s in items if s["type"] in TARGETED}
        other_turns = {s["turn"] for s in items if s["type"] not in TARGETED}
        cited = set(row.get("evidence", {}).get(_criterion(row), [])) if row["labels"][_criterion(row)] == "fail" \
            else set()
        for i, t in enumerate(turns):
            if i in targeted_turns or i in reqs or i in cited:
                continue
            flagged = bool(found[i])
            fa_all[0] += flagged
            fa_all[1] += 1
            if t["speaker"] == "agent":
                fa_agent[0] += flagged
                fa_agent[1] += 1
            if i in other_turns:
                phone_email_flagged[0] += flagged
                phone_email_flagged[1] += 1
            if flagged:
                for f in found[i]:
                    fa_by_label[f[2]] += 1
                false_alarms.append({"id": row["id"], "turn": i, "speaker": t["speaker"],
                                     "labels": [f[2] for f in found[i]]})
    elapsed = time.perf_counter() - t0
    per_type = []
    for (typ, how, speaker), (k, n) in sorted(ident_hit.items()):
        per_type.append({"type": typ, "how": how, "speaker": speaker, **_rate(k, n)})
    by_type: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    for (typ, how, _sp), (k, n) in ident_hit.items():
        by_type[(typ, how)][0] += k
        by_type[(typ, how)][1] += n
    all_k = sum(k for k, _ in ident_hit.values())
    all_n = sum(n for _, n in ident_hit.values())
    return {
        "entities": entities,
        "identifiers": {"overall": _rate(all_k, all_n),
                        "by_type": [{"type": t, "how": h, **_rate(k, n)} for (t, h), (k, n) in sorted(by_type.items())],
                        "by_type_and_speaker": per_type,
                        "partial_flagged": _rate(*partial)},
        "requests": {"per_turn": {k: _rate(*v) for k, v in sorted(req_turn.items())},
                     "per_turn_all": _rate(sum(v[0] for v in req_turn.values()), sum(v[1] for v in req_turn.values())),
                     "per_transcript": _rate(*req_tx)},
        "false_alarms": {"agent_turns": _rate(*fa_agent), "all_turns": _rate(*fa_all),
                         "phone_or_email_turns": _rate(*phone_email_flagged), "by_label": dict(fa_by_label),
                         "list": false_alarms},
        "missed": missed,
        "turns": n_turns, "ms_per_turn": round(1000 * elapsed / max(1, n_turns), 3),
    }


# ----------------------------------------------------------------------------- independent check
MULTIDOGO = ROOT.parent / "shared" / "data" / "multidogo" / "turn_level"


def multidogo_check(path: Path = MULTIDOGO) -> dict | None:
    """The identifier detector on MultiDoGO's customer chat turns (English, crowd-written, slot-labelled; never
    looked at while developing): full card numbers and SSNs found, partial ones (last 4) and turns without any
    left alone. Card numbers the crowd made up often fail Luhn, which no issued card does: those are counted
    apart. Turn-level files only (no agent turns, so no context from the turn before)."""
    from qa_service.pipelines.rubric.detectors import PII_ENTITIES, find_pii

    if not path.exists():
        return None
    from stdnum import luhn

    entities = list(PII_ENTITIES)
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    fa_slots: dict[str, int] = defaultdict(int)
    examples: list[dict] = []
    n = 0
    t0 = time.perf_counter()
    for f in sorted(path.glob("*/*.tsv")):
        for line in f.read_text(encoding="utf-8").splitlines()[1:]:
            cols = line.split("\t")
            if len(cols) < 6:
                continue
            words, slots = cols[3].split(), cols[4].split()
            if len(words) != len(slots):
                continue  # malformed line (about 1%)
            n += 1
            found = bool(find_pii(cols[3], entities, language="en"))
            slot_digits: dict[str, str] = defaultdict(str)
            for w, sl in zip(words, slots):
                slot_digits[sl] += "".join(c for c in w if c.isdigit())
            card, ssn, account = slot_digits.get("card_number", ""), slot_digits.get("ssn", ""), \
                slot_digits.get("account_number", "")
            if 13 <= len(card) <= 19:
                key = "card_full_luhn_valid" if luhn.is_valid(card) else "card_full_luhn_invalid"
            elif len(ssn) == 9:
                key = "ssn_full"
            elif card or ssn:
                key = "card_or_ssn_partial"
            elif account:
                key = "account_number"
            else:
                key = "no_card_ssn_or_account"
                if found:
                    for sl in set(slots) - {"O"}:
                        fa_slots[sl] += 1
                    if len(examples) < 20:
                        examples.append({"file": f"{f.parent.name}/{f.name}", "conversation": cols[0],
                                         "turn": cols[1]})
            counts[key][0] += found
            counts[key][1] += 1
    return {"turns": n, "flagged": {k: _rate(*v) for k, v in sorted(counts.items())},
            "false_alarm_slots": dict(sorted(fa_slots.items(), key=lambda kv: -kv[1])),
            "false_alarm_examples": examples, "seconds": round(time.perf_counter() - t0, 1)}


# ----------------------------------------------------------------------------- report
def _pct(r: dict) -> str:
    if not r["n"]:
        return "-"
    lo, hi = r["ci95"]
    if r["rate"] < 0.01:  # rare events read better as percentages
        return f"{100 * r['rate']:.3f}% ({r['hits']}/{r['n']}; {100 * lo:.3f}%-{100 * hi:.3f}%)"
    return f"{r['rate']:.2f} ({r['hits']}/{r['n']}; {lo:.2f}-{hi:.2f})"


def _loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def _versions(rubrics: dict) -> str:
    return ", ".join(f"`{k}` {v['version']}" for k, v in rubrics.items())


def render(det: dict, crit: dict, baseline: dict | None, commit: str, rows: int, files: list[str],
           seconds: float, mdg: dict | None = None) -> str:
    out = ["# Sensitive data: recall, false alarms and criterion agreement", "",
           f"Generated by `{COMMAND}` at commit `{commit}` on {rows} transcripts ({', '.join(files)}), "
           f"{det['turns']} turns, {det['ms_per_turn']} ms per turn for the detector; {seconds:.0f} s in all "
           f"(load average {_loadavg()} on this shared machine). "
           "Rates are given with their 95% Wilson interval (hits/n; low-high).", "",
           "**Caveats.** The set is small (170 transcripts; a few dozen items per type) and was also used during "
           "development: while writing the spoken-number reader, the Latin-American validators and the request "
           "rules, the failing transcripts' cited turns were read to see how identifiers and requests are said. "
           "The rules follow how people speak (digit by digit, groups, spelled letters, request verbs and "
           "negations) and no rule was fitted to a sentence of this set, but these figures are optimistic for "
           "unseen calls. The request reference is derived from the labels (see the module doc of "
           "`eval/sensitive.py`), not marked by the authors, and a few items point at a neighbouring turn (in "
           "es-es-052 the DNI is typed in turn 6; the items say turns 5 and 7, so it counts as two misses and a "
           "false alarm). The MultiDoGO check below was not looked at during development.", "",
           "## Full identifiers (every turn, every speaker)", "",
           f"Recall over all full identifiers: **{_pct(det['identifiers']['overall'])}**. Partial identifiers "
           f"(last digits only) flagged, which should not be: {_pct(det['identifiers']['partial_flagged'])}.", "",
           "| type | said | recall |", "|---|---|---|"]
    for r in det["identifiers"]["by_type"]:
        out.append(f"| {r['type']} | {r['how']} | {_pct(r)} |")
    out += ["", "`account` (UK sort code and account, US routing, Australian BSB) has no check digit and no "
            "validator here; it is reported, not targeted.", "",
            "## Requests for a CVV, PIN or password (agent turns)", "",
            f"Per request turn: **{_pct(det['requests']['per_turn_all'])}**; per transcript failed for a request "
            f"only: **{_pct(det['requests']['per_transcript'])}**.", "",
            "| what the customer gave next | recall per turn |", "|---|---|"]
    for k, r in det["requests"]["per_turn"].items():
        out.append(f"| {k} | {_pct(r)} |")
    fa = det["false_alarms"]
    out += ["", "Request turns followed by an identifier rather than a secret (\"Provide SSN.\", \"dígame el número "
            "completo de la tarjeta\") ask for an identifier, which the detector does not flag by itself; the "
            "identifier read back afterwards is.", "",
            "## False alarms (turns without any sensitive item)", "",
            f"Agent turns: **{_pct(fa['agent_turns'])}**; all turns: {_pct(fa['all_turns'])}; turns with only a "
            f"phone number or e-mail: {_pct(fa['phone_or_email_turns'])}. By label: "
            + (", ".join(f"{k} {v}" for k, v in sorted(fa["by_label"].items())) or "none") + ".", "",
            "## The criterion against the labels", "",
            f"Rubrics: {_versions(crit['rubrics'])}.", "",
            "| group | n | accuracy | kappa | fail recall | fail precision |", "|---|---|---|---|---|---|"]
    for name, g in [("all", crit["overall"])] + list(crit["groups"].items()):
        out.append(f"| {name} | {g['n']} | {g['accuracy']} | {g['kappa']} | {_pct(g['fail_recall'])} | "
                   f"{_pct(g['fail_precision'])} |")
    if baseline:
        b = baseline["criterion"]["overall"]
        out += ["", f"Baseline, the same measure at commit `{baseline['commit']}` (rubrics "
                f"{_versions(baseline['criterion']['rubrics'])}): "
                f"accuracy {b['accuracy']}, kappa {b['kappa']}, fail recall {_pct(b['fail_recall'])}, fail "
                f"precision {_pct(b['fail_precision'])}."]
    if mdg:
        fl = mdg["flagged"]
        names = {"card_full_luhn_valid": "full card number, passes Luhn (recall)",
                 "card_full_luhn_invalid": "full card number made up, fails Luhn (no issued card does)",
                 "ssn_full": "full SSN, 9 digits (recall; no context turn in these files)",
                 "card_or_ssn_partial": "last digits of a card or SSN only (should stay unflagged)",
                 "account_number": "account number, no card or SSN (not targeted)",
                 "no_card_ssn_or_account": "none of these (false alarms)"}
        out += ["", "## Independent check: MultiDoGO customer chat turns", "",
                f"{mdg['turns']} English customer turns (`../shared/data/multidogo/turn_level`, all domains and "
                "splits; crowd-written chats, slot-labelled), never looked at while developing. A turn is flagged "
                "when the detector finds any identifier in it (no context turn: these files hold customer turns "
                f"only). {mdg['seconds']} s.", "", "| the turn's labelled slots hold | flagged |", "|---|---|"]
        for k, label in names.items():
            if k in fl:
                out.append(f"| {label} | {_pct(fl[k])} |")
        out += ["", "Slots in the falsely flagged turns: "
                + (", ".join(f"{k} {v}" for k, v in mdg["false_alarm_slots"].items()) or "none") + "."]
    out += ["", f"Disagreements ({len(crit['misses'])}): "
            + ", ".join(f"{m['id']} (label {m['label']}, scored {m['scored']})" for m in crit["misses"]) + ".", "",
            "Missed items and every false alarm are listed in `sensitive-data.json` (transcript id, turn, type).", ""]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--criterion-only", action="store_true", help="only the criterion's agreement with the labels")
    ap.add_argument("--json", type=Path, help="with --criterion-only: where to write it")
    ap.add_argument("--baseline", type=Path, help="a --criterion-only JSON from another commit, for comparison")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    rows = load()
    commit = _commit()
    crit = criterion_agreement(rows)
    if args.criterion_only:
        res = {"command": COMMAND + " --criterion-only", "commit": commit, "criterion": crit}
        text = json.dumps(res, indent=1, ensure_ascii=False)
        if args.json:
            args.json.write_text(text + "\n", encoding="utf-8")
        print(json.dumps(crit["overall"], indent=1))
        return
    det = detector_measures(rows)
    mdg = multidogo_check()
    baseline = json.loads(args.baseline.read_text(encoding="utf-8")) if args.baseline else None
    files = [p.name for p in DATA]
    text = render(det, crit, baseline, commit, len(rows), files, time.perf_counter() - t0, mdg)
    REPORTS.mkdir(parents=True, exist_ok=True)
    cmd = COMMAND + (f" --baseline {args.baseline}" if args.baseline else "")
    (REPORTS / "sensitive-data.json").write_text(json.dumps(
        {"command": cmd, "commit": commit, "data": files, "transcripts": len(rows), "detector": det,
         "criterion": crit, "baseline": baseline, "multidogo": mdg}, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    (REPORTS / "sensitive-data.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    sys.exit(main())
