"""Fine-tune multilingual-e5-small end to end for 3-class sentiment with transformers' Trainer (CPU).

    python -m training.finetune_sentiment --version ft-1 --epochs 2
    python -m training.finetune_sentiment --limit 16 --max-steps 1 --out /tmp/ft-tiny --no-eval   # smoke (CI)

The classifier is the same shape the service already serves: mean pooling -> L2 normalisation ->
linear head, the pooling e5 was pre-trained with (the [CLS] pooler of ``BertForSequenceClassification``
starts untrained and converged slower in our first run). The head is warm-started from logistic
regression on the frozen embeddings, so training starts from the ``e5-small + LR`` model and only has
to improve on it. Word embeddings (96M of the 118M parameters) are frozen: that keeps CPU training
affordable and protects the multilingual vocabulary from drifting towards the Spanish-only data.

Output: an ``embedding-head`` bundle whose encoder (a sentence-transformers directory) lives inside the
bundle under ``encoder/``; ``qa-service`` serves it like any other (``QA_SENTIMENT_MODEL=<path>``).
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
ST_FILES = ("modules.json", "sentence_bert_config.json", "1_Pooling", "2_Normalize")


def balanced_sample(sets: list[ds.LabelledSet], n: int, seed: int = ds.SEED) -> tuple[list[str], list[int]]:
    """Up to ``n`` examples, the same number from each source (all of the smaller ones at most), shuffled."""
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
    ap.add_argument("--base", default=None, help="base sentence-transformers checkpoint (default: converted e5-small)")
    ap.add_argument("--prefix", default="query: ", help="text prefix the base model expects")
    ap.add_argument("--version", default="ft-dev")
    ap.add_argument("--out", type=Path, default=None, help="bundle directory (default models/sentiment/<version>)")
    ap.add_argument("--max-train", type=int, default=12000, help="training examples (balanced over sources)")
    ap.add_argument("--epochs", type=float, default=1.0)
    ap.add_argument("--max-steps", type=int, default=-1)
    ap.add_argument("--lr", type=float, default=3e-5)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--limit", type=int, default=None, help="at most N rows per set (smoke runs)")
    ap.add_argument("--no-eval", action="store_true")
    args = ap.parse_args(argv)

    import torch
    import torch.nn.functional as F
    from transformers import AutoModel, AutoTokenizer, DataCollatorWithPadding, Trainer, TrainingArguments

    from eval.features import embed_cached
    from eval.sentiment import evaluate
    from qa_service.config import get_settings
    from qa_service.encoders.e5 import SentenceTransformerEncoder
    from qa_service.pipelines.sentiment import SentimentPipeline
    from qa_service.text.normalize import normalise_for_sentiment as norm
    from training.sentiment import source_weights

    settings = get_settings()
    torch.set_num_threads(settings.threads)
    torch.manual_seed(ds.SEED)
    base = Path(args.base) if args.base else settings.e5_converted_dir
    if args.base is None:
        from qa_service.encoders.e5_convert import verify

        verify(settings.e5_converted_dir)

    def lim(sets):
        return [s.subset(args.limit) for s in sets] if args.limit else sets

    train_sets, val_sets = lim(ds.training_sets()), lim(ds.validation_sets())

    # Warm start: logistic regression on the frozen base embeddings (cached), same data and weighting.
    # Named like the registry's encoder when it is the default base, so the embedding cache is shared.
    base_enc = SentenceTransformerEncoder(base, name="e5-small" if args.base is None else f"ft-base:{base.name}",
                                          prefix=args.prefix, threads=settings.threads)
    x = np.vstack([embed_cached(base_enc, [norm(t) for t in s.texts], s.name) for s in train_sets])
    warm = SentimentPipeline(head="logreg", C=1.0, calibrate=False).fit_embeddings(
        x, sum((s.labels for s in train_sets), []), source_weights(train_sets))
    del base_enc, x

    class MeanPoolClassifier(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = AutoModel.from_pretrained(str(base))
            self.classifier = torch.nn.Linear(self.encoder.config.hidden_size, len(LABELS))
            with torch.no_grad():
                self.classifier.weight.copy_(torch.from_numpy(warm.head_.weights[0].T))
                self.classifier.bias.copy_(torch.from_numpy(warm.head_.biases[0]))

        def forward(self, input_ids, attention_mask, labels=None, **_):
            h = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            m = attention_mask.unsqueeze(-1).to(h.dtype)
            pooled = F.normalize((h * m).sum(1) / m.sum(1).clamp(min=1.0), dim=-1)
            logits = self.classifier(pooled)
            loss = F.cross_entropy(logits, labels) if labels is not None else None
            return {"loss": loss, "logits": logits}

    model = MeanPoolClassifier()
    model.encoder.embeddings.word_embeddings.weight.requires_grad_(False)
    tok = AutoTokenizer.from_pretrained(str(base))
    texts, labels = balanced_sample(train_sets, args.max_train)

    class Encoded(torch.utils.data.Dataset):
        def __init__(self) -> None:
            self.enc = tok([args.prefix + norm(t) for t in texts], truncation=True, max_length=args.max_length)

        def __len__(self) -> int:
            return len(labels)

        def __getitem__(self, i: int) -> dict:
            return {"input_ids": self.enc["input_ids"][i], "attention_mask": self.enc["attention_mask"][i],
                    "labels": labels[i]}

    steps_per_epoch = max(1, len(texts) // args.batch_size)
    targs = TrainingArguments(
        output_dir=str(settings.cache_dir / "finetune" / args.version), per_device_train_batch_size=args.batch_size,
        learning_rate=args.lr, num_train_epochs=args.epochs, max_steps=args.max_steps,
        warmup_steps=max(1, int(0.06 * steps_per_epoch * args.epochs)), weight_decay=0.01, logging_steps=25,
        save_strategy="no", report_to=[], use_cpu=True, dataloader_num_workers=0, seed=ds.SEED)
    trainer = Trainer(model=model, args=targs, train_dataset=Encoded(), data_collator=DataCollatorWithPadding(tok))
    t0 = time.time()
    trainer.train()
    train_seconds = time.time() - t0

    out = args.out or (settings.models_dir / "sentiment" / args.version)
    enc_dir = out / "encoder"
    if enc_dir.exists():
        shutil.rmtree(enc_dir)
    enc_dir.mkdir(parents=True)
    model.encoder.save_pretrained(str(enc_dir))
    tok.save_pretrained(str(enc_dir))
    for name in ST_FILES:
        src = base / name
        if src.is_dir():
            shutil.copytree(src, enc_dir / name)
        elif src.exists():
            shutil.copy(src, enc_dir / name)

    enc = SentenceTransformerEncoder(enc_dir, name="e5-small-finetuned", prefix=args.prefix,
                                     max_seq_length=args.max_length, threads=settings.threads)
    pipe = SentimentPipeline(encoder="e5-small-finetuned", head="logreg")
    from qa_service.pipelines.sentiment import NumpyHead, fit_temperature

    pipe.head_ = NumpyHead([model.classifier.weight.detach().numpy().T], [model.classifier.bias.detach().numpy()])
    pipe.encoder_ = enc
    xv = enc.encode([norm(t) for t in sum((s.texts for s in val_sets), [])])
    yv = np.array([LABELS.index(l) for l in sum((s.labels for s in val_sets), [])])
    pipe.temperature_ = fit_temperature(pipe.head_.logits(xv), yv)
    metrics = {} if args.no_eval else evaluate(lambda s: pipe.predict_proba(s.texts), lim(ds.test_sets()))
    for name, r in metrics.items():
        print(f"  {name:18s} macro-F1 {r['macro_f1']:.3f}  ECE {r['ece']:.3f}  (n={r['n']})", file=sys.stderr)

    pipe.save(out, {
        "version": args.version,
        "encoder": {"name": "e5-small-finetuned", "path": "encoder", "prefix": args.prefix, "base": str(base),
                    "fingerprint": enc.fingerprint(), "dim": enc.dim},
        "artifacts": {"head.npz": "", **{str(p.relative_to(out)): "" for p in sorted(enc_dir.rglob("*")) if p.is_file()}},
        "training_data": [{"name": s.name, "source": s.source, "licence": s.licence, "rows": len(s),
                           "sha256": s.sha256()} for s in train_sets + val_sets],
        "training": {"examples": len(texts), "epochs": args.epochs, "max_steps": args.max_steps, "lr": args.lr,
                     "batch_size": args.batch_size, "max_length": args.max_length, "frozen": "word embeddings",
                     "head_init": "logistic regression on frozen embeddings", "seconds": round(train_seconds),
                     "command": "python -m training.finetune_sentiment " + " ".join(argv or sys.argv[1:])},
        "metrics": metrics,
    })
    print(f"wrote {out} (trained {len(texts)} examples in {train_seconds:.0f}s, T={pipe.temperature_:.2f})",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
