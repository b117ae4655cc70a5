"""Distil the fine-tuned sentiment transformer into a shallower student for the live path (CPU).

    python -m training.distill_sentiment --version 3.0.0 --layers 4 --epochs 3            # the shipped recipe
    python -m training.distill_sentiment --version 3.0.0 --layers 4 --epochs 3 --resume   # continue after a stop
    python -m training.distill_sentiment --limit 16 --max-steps 2 --out /tmp/st-tiny       # smoke run (CI)

Teacher: a ``transformer-onnx`` bundle (default ``models/sentiment/2.0.0``, fine-tuned multilingual-e5-small, 12
layers); its uncalibrated logits come from its fp32 ONNX graph and are cached by text hash.
Student: the teacher's lowest ``--layers`` transformer layers (same width, same tokenizer and word embeddings,
which stay frozen and come back from the base checkpoint at setup), a new head warm-started by logistic
regression on the student's own pooled states. Dropping the top layers keeps the student a working early exit of
the teacher from step one; training then moves the kept layers.

Data (``eval/datasets.py``; role ``train`` only, validation and report sets never trained on):

* the labelled training mix of :mod:`training.finetune_sentiment` (every training tweet, Amazon-es reviews at
  their ``MIX`` share, a new review sample each epoch): loss = ``alpha`` * KL(teacher || student) at
  temperature ``T`` (times T^2) + (1 - ``alpha``) * cross-entropy with the gold label;
* unlabelled real customer messages to brands (TWCS inbound tweets that are not in the labelled customer-message
  validation or report sets, checked by the protocol's near-duplicate key) and, with ``--bank-queries N``, a
  seeded sample of BANKING77's customer messages to a bank: the teacher's soft labels only;
* with ``--customer-labels FILE`` (``tweet_id,label``: ``training/labels/twcs-train-labels.csv``, labelled by
  reading, see its ``.md``), those TWCS messages carry their gold label too, with the distillation weight
  ``--customer-alpha`` (default 0.3: mostly the gold label, because the teacher is known to read calm complaints
  as neutral, which is what these labels are there to correct). Ids in the labelled validation or report sets,
  or sharing a near-duplicate key with any validation or report text, are refused; messages by a customer who
  wrote one of the labelled validation/report messages are left out and counted (413 of the 1,000).
  ``--customer-repeat N`` shows each of them N times per epoch. ``--customer-prior-shift`` moves the teacher's soft
  labels on every TWCS message (labelled or not) by class biases fitted, by maximum likelihood, to the teacher's
  logits on the labelled training messages: the teacher's reading of customer messages is corrected where the
  student learns it from, not only on the few hundred labelled rows (the biases are in the manifest).

Output: a ``transformer-onnx`` bundle whose manifest records ``architecture.num_hidden_layers``, the teacher and the
distillation settings; then ``python -m training.export_sentiment <bundle>`` builds int8 ONNX, calibrates per
language on the validation sets and measures what quantisation costs, as for the teacher.
"""

from __future__ import annotations

import argparse
import csv
import functools
import hashlib
import math
import random
import sys
import time
from pathlib import Path

import numpy as np

from eval import datasets as ds

LABELS = ds.LABELS
UNLABELLED = -1


@functools.lru_cache(maxsize=1)
def _held_keys() -> frozenset[str]:
    """The near-duplicate keys of every validation and report text of the protocol (read once per process)."""
    return frozenset(ds.dedup_key(t) for s in ds.all_sets() if s.role in ("val", "report") for t in s.texts)


@functools.lru_cache(maxsize=1)
def _twcs_rows() -> dict[str, dict[str, str]]:
    """``../shared/data/twcs_head/twcs_head.csv`` by tweet id (read once per process)."""
    with (ds.data_root() / "twcs_head" / "twcs_head.csv").open(encoding="utf-8", newline="") as fh:
        return {r["tweet_id"]: r for r in csv.DictReader(fh)}


def _unseen(texts: list[str], why: dict[str, int]) -> list[str]:
    """``texts`` (whitespace-normalised) without empties, repeats, and anything sharing a near-duplicate key with a
    validation or report text of the protocol; ``why`` counts what was left out."""
    held = _held_keys()
    keep, seen = [], set()
    why.setdefault("in_val_or_report", 0)
    why.setdefault("duplicate_or_empty", 0)
    for t in (" ".join(str(t).split()) for t in texts):
        k = ds.dedup_key(t)
        if k in held:
            why["in_val_or_report"] += 1
        elif not k or k in seen:
            why["duplicate_or_empty"] += 1
        else:
            seen.add(k)
            keep.append(t)
    return keep


def _describe(name: str, source: str, licence: str, file: str, texts: list[str], why: dict, **extra) -> dict:
    return {"name": name, "language": "en", "kind": "customer-messages", "role": "train (teacher's soft labels only)",
            "source": source, "licence": licence, "rows": len(texts), **extra, "left_out": why, "files": [file],
            "sha256": "sha256:" + hashlib.sha256("\n".join(texts).encode()).hexdigest()}


def unlabelled_customer_messages(limit: int | None = None) -> tuple[list[str], dict]:
    """Inbound TWCS customer tweets (English, unlabelled) that share no near-duplicate key with any validation or
    report text of the protocol (the labelled TWCS messages are such texts), and how many were left out and why."""
    labelled = set(ds.twcs_labels())
    why = {"brand": 0, "labelled": 0}
    rows = []
    for r in _twcs_rows().values():
        if str(r.get("inbound", "")).strip().lower() not in ("true", "1"):
            why["brand"] += 1
        elif r["tweet_id"] in labelled:
            why["labelled"] += 1
        else:
            rows.append(r["text"])
    texts = _unseen(rows, why)[:limit] if limit else _unseen(rows, why)
    return texts, _describe("twcs_head/unlabelled-inbound", "Customer Support on Twitter (TWCS)", "CC BY-NC-SA 4.0",
                            "twcs_head/twcs_head.csv", texts, why)


def unlabelled_bank_queries(n: int = 5000, limit: int | None = None) -> tuple[list[str], dict]:
    """A seeded sample of ``n`` real customer messages to a bank (BANKING77's training file: English, intents
    only, no sentiment labels), none sharing a near-duplicate key with any validation or report text."""
    with (ds.data_root() / "banking77" / "banking_data_train.csv").open(encoding="utf-8", newline="") as fh:
        rows = [r["text"] for r in csv.DictReader(fh)]
    why: dict[str, int] = {}
    keep = _unseen(rows, why)
    texts = sorted(random.Random(ds.SEED).sample(keep, min(n, len(keep)))) if n else []
    if limit:
        texts = texts[:limit]
    return texts, _describe("banking77/unlabelled-train-sample", "BANKING77 (PolyAI), training file", "CC BY 4.0",
                            "banking77/banking_data_train.csv", texts, why, of=len(rows))


def prior_shift(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Class biases ``b`` (neutral's fixed at 0) maximising the likelihood of labels ``y`` under softmax(z + b): the
    shift of a model's logits to another domain's label balance and reading, fitted on that domain's labels."""
    from scipy.optimize import minimize
    from scipy.special import log_softmax

    z = np.asarray(z, dtype=np.float64)
    y = np.asarray(y)

    def nll(free: np.ndarray) -> float:
        return float(-np.mean(log_softmax(z + [free[0], 0.0, free[1]], axis=1)[np.arange(len(y)), y]))

    res = minimize(nll, np.zeros(2), method="Nelder-Mead", options={"xatol": 1e-4, "fatol": 1e-7})
    return np.array([res.x[0], 0.0, res.x[1]], dtype=np.float32)


def labelled_customer_messages(path: Path) -> tuple[dict[str, int], dict]:
    """Gold labels (text -> label index) of TWCS customer messages from a ``tweet_id,label`` file; ``skip`` rows and
    messages by a customer who also wrote a labelled validation/report message are counted and left out. Raises
    ValueError naming the first id that is unknown, not inbound, in the labelled validation/report messages, or a
    near-duplicate of a validation or report text."""
    by_id = _twcs_rows()
    held_ids = set(ds.twcs_labels())
    held = _held_keys()
    # Customers who wrote a labelled validation/report message: their other messages (often the same complaint,
    # later in the thread) are left out of training and counted, so nothing they said is learnt with its label.
    held_authors = {by_id[i]["author_id"] for i in held_ids if i in by_id}
    out: dict[str, int] = {}
    counts = {lab: 0 for lab in LABELS} | {"skip": 0}
    same_author = 0
    with Path(path).open(encoding="utf-8", newline="") as fh:
        for r in csv.DictReader(fh):
            i, lab = str(r.get("tweet_id", "")).strip(), str(r.get("label", "")).strip()
            row = by_id.get(i)
            if row is None or str(row.get("inbound", "")).strip().lower() not in ("true", "1"):
                raise ValueError(f"{path}: tweet {i!r} is not an inbound customer message of twcs_head")
            if lab not in counts:
                raise ValueError(f"{path}: tweet {i}: label {lab!r} is not one of {sorted(counts)}")
            text = " ".join(row["text"].split())
            if i in held_ids or ds.dedup_key(text) in held:
                raise ValueError(f"{path}: tweet {i} is (or near-duplicates) a validation or report text")
            if row.get("author_id") in held_authors:
                same_author += 1
                continue
            counts[lab] += 1
            if lab != "skip":
                out[text] = LABELS.index(lab)
    desc = _describe("twcs/train-labelled", "Customer Support on Twitter (TWCS), labelled by reading", "CC BY-NC-SA 4.0",
                     "twcs_head/twcs_head.csv", sorted(out),
                     {"skip": counts["skip"], "author_of_a_validation_or_report_message": same_author},
                     label_counts={k: v for k, v in counts.items() if k != "skip"}, labels_file=str(path))
    desc["role"] = "train (gold label + teacher's soft labels)"
    return out, desc


def teacher_logits(teacher: Path, texts: list[str], batch_size: int = 64) -> np.ndarray:
    """The teacher's uncalibrated logits (its fp32 ONNX graph), cached by the teacher's checksums and the texts."""
    from qa_service.bundles import read_manifest
    from qa_service.config import get_settings
    from qa_service.pipelines.sentiment_onnx import OnnxSentimentPipeline, build, onnx_dir

    settings = get_settings()
    m = read_manifest(teacher, task="sentiment")
    key = hashlib.sha256("\x00".join(texts).encode()).hexdigest()[:16]
    f = settings.cache_dir / "distill" / f"teacher-{onnx_dir(teacher, settings.cache_dir).name}-{key}.npy"
    if f.exists():
        return np.load(f)
    d = build(teacher, settings.e5_converted_dir, settings.cache_dir)
    pipe = OnnxSentimentPipeline(d / "model.onnx", settings.e5_converted_dir, prefix=m.get("prefix", "query: "),
                                 max_length=int(m.get("max_length", 96)), threads=settings.threads,
                                 detect_language=False)
    from tqdm import tqdm

    out = []
    for i in tqdm(range(0, len(texts), 512), desc="teacher logits", unit="chunk", file=sys.stderr):
        out.append(pipe.logits(texts[i:i + 512], batch_size=batch_size))
    z = np.vstack(out).astype(np.float32) if out else np.zeros((0, len(LABELS)), np.float32)
    f.parent.mkdir(parents=True, exist_ok=True)
    np.save(f, z)
    return z


def length_batches(lengths: list[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Shuffled batches of similar length (little padding): shuffle, sort within windows of 50 batches, cut."""
    idx = list(range(len(lengths)))
    rng.shuffle(idx)
    window = batch_size * 50
    batches = []
    for w in range(0, len(idx), window):
        chunk = sorted(idx[w:w + window], key=lambda i: lengths[i])
        batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.distill_sentiment", description=__doc__.split("\n")[0])
    ap.add_argument("--teacher", type=Path, default=None, help="teacher bundle (default models/sentiment/2.0.0)")
    ap.add_argument("--layers", type=int, default=4, help="transformer layers the student keeps (the lowest N)")
    ap.add_argument("--version", default="st-dev")
    ap.add_argument("--out", type=Path, default=None, help="bundle directory (default models/sentiment/<version>)")
    ap.add_argument("--epochs", type=float, default=3.0)
    ap.add_argument("--max-steps", type=int, default=-1)
    ap.add_argument("--lr", type=float, default=8e-5)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--alpha", type=float, default=0.7, help="weight of the distillation loss on labelled rows")
    ap.add_argument("--temperature", type=float, default=2.0, help="distillation temperature")
    ap.add_argument("--bank-queries", type=int, default=0,
                    help="also distil on this many unlabelled BANKING77 customer messages (0: none)")
    ap.add_argument("--customer-labels", type=Path, default=None,
                    help="tweet_id,label file of TWCS messages labelled by reading (training/labels/twcs-train-labels.csv)")
    ap.add_argument("--customer-alpha", type=float, default=0.3,
                    help="distillation weight on the --customer-labels rows (the rest: their gold label)")
    ap.add_argument("--customer-prior-shift", action="store_true",
                    help="shift the teacher's logits on every TWCS message by class biases fitted to the "
                         "--customer-labels rows (the teacher reads calm complaints as neutral)")
    ap.add_argument("--customer-repeat", type=int, default=1,
                    help="times each --customer-labels row appears per epoch (default 1; the labelled messages are "
                         "few beside ~12,000 tweets and reviews)")
    ap.add_argument("--save-steps", type=int, default=200)
    ap.add_argument("--warm-examples", type=int, default=3000, help="examples for the warm-start head")
    ap.add_argument("--resume", action="store_true", help="continue from this version's checkpoint")
    ap.add_argument("--limit", type=int, default=None, help="at most N rows per set (smoke runs)")
    args = ap.parse_args(argv)
    if args.layers < 1 or args.epochs <= 0:
        print("--layers must be at least 1 and --epochs above 0", file=sys.stderr)
        return 2
    if args.customer_repeat < 1 or (args.customer_repeat > 1 and not args.customer_labels):
        print("--customer-repeat must be at least 1, and above 1 only with --customer-labels", file=sys.stderr)
        return 2
    if args.customer_prior_shift and not args.customer_labels:
        print("--customer-prior-shift needs --customer-labels (the biases are fitted to them)", file=sys.stderr)
        return 2

    import torch
    import torch.nn.functional as F  # noqa: N812
    from safetensors.torch import load_file
    from tokenizers import Tokenizer
    from tqdm import tqdm

    from qa_service.bundles import read_manifest
    from qa_service.config import get_settings
    from qa_service.encoders.e5_convert import verify
    from qa_service.errors import ModelLoadError
    from qa_service.pipelines.sentiment import SentimentPipeline
    from qa_service.pipelines.sentiment_onnx import WORD_EMBEDDINGS, MeanPoolClassifier, save_layers
    from qa_service.text.normalize import normalise_for_sentiment as norm
    from training.finetune_sentiment import epoch_sample

    settings = get_settings()
    torch.set_num_threads(settings.threads)
    torch.manual_seed(ds.SEED)
    base = settings.e5_converted_dir
    verify(base)
    teacher = args.teacher or settings.models_dir / "sentiment" / "2.0.0"
    try:
        tm = read_manifest(teacher, task="sentiment")
    except ModelLoadError as exc:
        print(f"cannot read the teacher: {exc}", file=sys.stderr)
        return 4
    if tm.get("kind") != "transformer-onnx":
        print(f"{teacher}: the teacher must be a transformer-onnx bundle (it is {tm.get('kind')})", file=sys.stderr)
        return 2
    prefix, max_length = tm.get("prefix", "query: "), int(tm.get("max_length", 96))

    train_sets = ds.training_sets()
    if args.limit:
        train_sets = [s.subset(args.limit) for s in train_sets]
    extra, twcs_desc = unlabelled_customer_messages(args.limit)
    twcs_texts = list(extra)
    bank, bank_desc = unlabelled_bank_queries(args.bank_queries, args.limit)
    extra_descs = [twcs_desc] + ([bank_desc] if bank else [])
    extra = extra + bank
    gold: dict[str, int] = {}
    if args.customer_labels:
        try:
            gold, gold_desc = labelled_customer_messages(args.customer_labels)
        except (OSError, ValueError) as exc:
            print(f"cannot use the customer labels: {exc}", file=sys.stderr)
            return 2
        if args.limit:
            gold = {t: gold[t] for t in sorted(gold)[: args.limit]}
            gold_desc["rows"] = len(gold)
        extra_descs.append(gold_desc)
        extra = extra + sorted(set(gold) - set(extra))
    n_epochs = max(1, math.ceil(args.epochs))
    epochs = [epoch_sample(train_sets, seed=ds.SEED + e) for e in range(n_epochs)]
    pool = sorted({t for texts, _, _ in epochs for t in texts} | set(extra))
    z_all = teacher_logits(teacher, pool)
    row = {t: i for i, t in enumerate(pool)}
    shift = None
    if args.customer_prior_shift:
        # The teacher's soft labels on customer messages, moved to the customer messages' label balance: biases
        # fitted to the labelled training messages (never a validation or report one), added to its logits on
        # every TWCS message, labelled or not; tweets and reviews keep the teacher's own.
        gt = sorted(gold)
        shifted = sorted(set(twcs_texts) | set(gold))
        z_all = z_all.copy()  # the cached array stays the teacher's own
        shift = prior_shift(z_all[[row[t] for t in gt]], np.array([gold[t] for t in gt]))
        z_all[[row[t] for t in shifted]] += shift
        print(f"teacher logits on {len(shifted)} TWCS messages shifted by {shift.round(3).tolist()}", file=sys.stderr)
    print(f"distilling {teacher.name} ({tm.get('architecture', {}).get('num_hidden_layers', 12)} layers) into "
          f"{args.layers} layers on {len(epochs[0][0])} labelled examples per epoch + {len(extra)} unlabelled "
          f"customer messages; teacher logits for {len(pool)} texts", file=sys.stderr)

    tok = Tokenizer.from_file(str(base / "tokenizer.json"))
    tok.enable_truncation(max_length)
    pad_id = tok.token_to_id("<pad>") or 1
    enc_cache: dict[str, list[int]] = {}

    def ids_of(texts: list[str]) -> list[list[int]]:
        todo = [t for t in texts if t not in enc_cache]
        for t, e in zip(todo, tok.encode_batch([prefix + norm(t) for t in todo])):
            enc_cache[t] = e.ids
        return [enc_cache[t] for t in texts]

    def tensors(texts: list[str]):
        seqs = ids_of(texts)
        width = max(len(s) for s in seqs)
        ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(seqs), width), dtype=torch.long)
        for r, s in enumerate(seqs):
            ids[r, :len(s)] = torch.tensor(s)
            mask[r, :len(s)] = 1
        return ids, mask

    # Student: the teacher's lowest layers (word embeddings from the base), warm-started head.
    model = MeanPoolClassifier.from_base(base, len(LABELS), layers=args.layers)
    state = {k: v.float() for k, v in load_file(str(teacher / "layers.safetensors")).items()
             if not k.startswith("encoder.layer.") or int(k.split(".")[2]) < args.layers}
    missing, unexpected = model.encoder.load_state_dict(state, strict=False)
    if unexpected or [k for k in missing if k != WORD_EMBEDDINGS]:
        print(f"{teacher}: layers do not fit the student (missing {missing[:3]}, unexpected {unexpected[:3]})",
              file=sys.stderr)
        return 2
    model.encoder.embeddings.word_embeddings.weight.requires_grad_(False)

    work = settings.cache_dir / "distill" / args.version
    ckpt = work / "checkpoint.pt"
    resume = bool(args.resume and ckpt.exists())
    texts0, labels0, _ = epochs[0]
    if not resume:
        nw = min(args.warm_examples, len(texts0))
        model.eval()
        feats = []
        with torch.no_grad():
            for i in range(0, nw, 64):
                feats.append(model.pooled(*tensors(texts0[i:min(i + 64, nw)])).numpy())
        warm = SentimentPipeline(head="logreg", C=1.0, calibrate=False).fit_embeddings(
            np.vstack(feats), [LABELS[i] for i in labels0[:nw]])
        with torch.no_grad():
            model.classifier.weight.copy_(torch.from_numpy(warm.head_.weights[0].T))
            model.classifier.bias.copy_(torch.from_numpy(warm.head_.biases[0]))

    # One list of (text, label or UNLABELLED) per epoch; a fractional last epoch is cut short.
    plan = []
    rng = random.Random(ds.SEED)
    for e, (texts, labels, _) in enumerate(epochs):
        rows = list(zip(texts, labels)) + [(t, gold.get(t, UNLABELLED)) for t in extra]
        rows += [(t, gold[t]) for t in sorted(gold) for _ in range(args.customer_repeat - 1)]
        batches = length_batches([len(ids) for ids in ids_of([r[0] for r in rows])], args.batch_size, rng)
        if e == n_epochs - 1 and args.epochs < n_epochs:
            batches = batches[: int(len(batches) * (args.epochs - (n_epochs - 1)))]
        plan += [[rows[i] for i in b] for b in batches]
    total = len(plan) if args.max_steps < 0 else min(len(plan), args.max_steps)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    warmup = max(1, int(0.06 * total))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warmup, max(0.0, (total - s) / max(1, total - warmup))))
    step = 0
    if resume:
        saved = torch.load(ckpt, weights_only=False)
        model.load_state_dict(saved["model"])
        opt.load_state_dict(saved["opt"])
        sched.load_state_dict(saved["sched"])
        step = int(saved["step"])
        print(f"resumed at step {step} of {total}", file=sys.stderr)

    T, alpha = args.temperature, args.alpha
    model.train()
    t0 = time.time()
    bar = tqdm(total=total, initial=step, desc=f"distil {args.layers} layers", unit="step", file=sys.stderr)
    running = None
    while step < total:
        batch = plan[step]
        ids, mask = tensors([r[0] for r in batch])
        y = torch.tensor([r[1] for r in batch])
        zt = torch.from_numpy(z_all[[row[r[0]] for r in batch]])
        logits = model.classifier(model.pooled(ids, mask))
        kd = F.kl_div(F.log_softmax(logits / T, -1), F.softmax(zt / T, -1), reduction="none").sum(-1) * T * T
        has = y != UNLABELLED
        a = torch.tensor([args.customer_alpha if r[0] in gold else alpha for r in batch], dtype=kd.dtype)
        ce = F.cross_entropy(logits, torch.where(has, y, 0), reduction="none")
        loss = torch.where(has, a * kd + (1 - a) * ce, kd).sum() / len(batch)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        step += 1
        value = loss.item()
        running = value if running is None else 0.98 * running + 0.02 * value
        bar.update(1)
        bar.set_postfix(loss=f"{running:.3f}")
        if step % args.save_steps == 0 and step < total:
            work.mkdir(parents=True, exist_ok=True)
            torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                        "step": step}, ckpt.with_suffix(".tmp"))
            ckpt.with_suffix(".tmp").replace(ckpt)
    bar.close()
    train_seconds = time.time() - t0
    model.eval()

    out = args.out or (settings.models_dir / "sentiment" / args.version)
    from collections import Counter

    counts = Counter(n for _, _, names in epochs for n in names)
    command = "python -m training.distill_sentiment " + " ".join(argv if argv is not None else sys.argv[1:])
    save_layers(model, out, base, {
        "version": args.version,
        "prefix": prefix,
        "max_length": max_length,
        "training_data": [{**s.describe(), "sha256": s.sha256(), "examples_all_epochs": counts.get(s.name, 0)}
                          for s in train_sets] + extra_descs,
        "distillation": {"teacher": {"version": tm.get("version"), "bundle": teacher.name,
                                     "layers": (tm.get("architecture") or {}).get("num_hidden_layers", 12),
                                     "layers_sha256": tm["artifacts"]["layers.safetensors"]},
                         "student_layers": f"the teacher's lowest {args.layers}",
                         "teacher_logits": "uncalibrated, fp32 ONNX", "alpha": alpha, "temperature": T,
                         **({"customer_labels": str(args.customer_labels), "customer_alpha": args.customer_alpha,
                             "customer_repeat": args.customer_repeat,
                             **({"customer_prior_shift": {
                                 "biases": [round(float(x), 4) for x in shift],
                                 "fitted_on": "the --customer-labels rows (teacher logits, maximum likelihood)",
                                 "applied_to": "the teacher's logits on every TWCS message (labelled and unlabelled)"}}
                                if shift is not None else {}),
                             "customer_labelled_rows": len(gold)} if gold else {})},
        "training": {"epochs": args.epochs, "max_steps": args.max_steps, "steps": step, "lr": args.lr,
                     "batch_size": args.batch_size, "max_length": max_length,
                     "mix": {f"{k[0]}/{k[1]}": v for k, v in ds.MIX.items()},
                     "frozen": "word embeddings", "head_init": "logistic regression on the student's pooled states",
                     "seconds": round(train_seconds), "resumed": resume, "limit": args.limit, "command": command},
    })
    print(f"wrote {out} ({step} steps of {args.batch_size}, {train_seconds:.0f}s); next: "
          f"python -m training.export_sentiment {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
