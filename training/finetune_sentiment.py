"""Fine-tune multilingual-e5-small end to end for 3-class sentiment on the tweet-heavy mix (CPU).

    python -m training.finetune_sentiment --version 2.0.0 --epochs 3            # the shipped recipe (~1-2 h)
    python -m training.finetune_sentiment --version 2.0.0 --epochs 3 --resume   # continue after a stop
    python -m training.finetune_sentiment --limit 16 --max-steps 1 --out /tmp/ft-tiny   # smoke run (CI)

Data (``eval/datasets.py``, role ``train`` only): every training tweet (TASS 2019, XLM-T es, TweetEval) and
Amazon-es reviews sampled so each epoch keeps the language-balanced, tweet-heavy shares of ``datasets.MIX``
(es tweets 35%, es reviews 15%, en tweets 50%). Validation sets are never trained on; report sets never seen.

The model: e5's mean pooling -> L2 normalisation -> linear head, warm-started from logistic regression on
the frozen embeddings of a random 3,000 of the same examples. Word embeddings (96M of 118M parameters) stay frozen: CPU
training stays affordable, the multilingual vocabulary does not drift, and the bundle only has to carry the
other 22M parameters (``layers.safetensors``, fp16): the word embeddings are rebuilt at setup from the
converted base checkpoint like the encoder itself (``qa-service models prepare``).

Checkpoints are written every ``--save-steps`` under the cache directory; ``--resume`` continues the last one.
Output: a ``transformer-onnx`` bundle (``manifest.json``, ``layers.safetensors``, ``head.npz``; the tokenizer is the
base checkpoint's); ``python -m training.export_sentiment BUNDLE`` then exports ONNX, quantises it to int8, calibrates per
language on the validation sets and measures what the quantisation costs.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np

from eval import datasets as ds

LABELS = ds.LABELS


def epoch_sample(sets: list[ds.LabelledSet], seed: int = ds.SEED) -> tuple[list[str], list[int], list[str]]:
    """Texts, label ids and set names for one epoch: all tweets, reviews subsampled to their ``MIX`` share."""
    rng = random.Random(seed)
    tweets = {lang: sum(len(s) for s in sets if s.language == lang and s.kind == "tweets") for lang in ("es", "en")}
    rows: list[tuple[str, int, str]] = []
    for s in sets:
        idx = list(range(len(s)))
        if s.kind == "reviews":
            group = ds.MIX.get((s.language, "tweets"), 0.0)
            want = int(tweets[s.language] * ds.MIX.get((s.language, "reviews"), 0.0) / group) if group else len(s)
            rng.shuffle(idx)
            idx = sorted(idx[:want])
        rows += [(s.texts[i], LABELS.index(s.labels[i]), s.name) for i in idx]
    rng.shuffle(rows)
    return [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.finetune_sentiment", description=__doc__.split("\n")[0])
    ap.add_argument("--base", default=None, help="base sentence-transformers checkpoint (default: converted e5-small)")
    ap.add_argument("--prefix", default="query: ", help="text prefix the base model expects")
    ap.add_argument("--version", default="ft-dev")
    ap.add_argument("--out", type=Path, default=None, help="bundle directory (default models/sentiment/<version>)")
    ap.add_argument("--epochs", type=float, default=3.0)
    ap.add_argument("--max-steps", type=int, default=-1)
    ap.add_argument("--lr", type=float, default=4e-5)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--max-length", type=int, default=96)
    ap.add_argument("--save-steps", type=int, default=200)
    ap.add_argument("--freeze-layers", type=int, default=4, help="also freeze the lowest N transformer layers")
    ap.add_argument("--warm-examples", type=int, default=3000, help="examples for the warm-start head")
    ap.add_argument("--resume", action="store_true", help="continue from the last checkpoint of this version")
    ap.add_argument("--limit", type=int, default=None, help="at most N rows per set (smoke runs)")
    args = ap.parse_args(argv)

    import torch
    from transformers import AutoTokenizer, DataCollatorWithPadding, Trainer, TrainingArguments

    from eval.features import embed_cached
    from qa_service.config import get_settings
    from qa_service.encoders.e5 import SentenceTransformerEncoder
    from qa_service.pipelines.sentiment import SentimentPipeline
    from qa_service.pipelines.sentiment_onnx import MeanPoolClassifier, save_layers
    from qa_service.text.normalize import normalise_for_sentiment as norm

    settings = get_settings()
    torch.set_num_threads(settings.threads)
    torch.manual_seed(ds.SEED)
    base = Path(args.base) if args.base else settings.e5_converted_dir
    if args.base is None:
        from qa_service.encoders.e5_convert import verify

        verify(settings.e5_converted_dir)

    train_sets = ds.training_sets()
    if args.limit:
        train_sets = [s.subset(args.limit) for s in train_sets]
    texts, labels, origin = epoch_sample(train_sets)
    print(f"fine-tuning on {len(texts)} examples per epoch from {', '.join(s.name for s in train_sets)}",
          file=sys.stderr)

    # Warm start: logistic regression on the frozen base embeddings of the same examples (cached on disk).
    base_enc = SentenceTransformerEncoder(base, name="e5-small" if args.base is None else f"ft-base:{base.name}",
                                          prefix=args.prefix, threads=settings.threads, max_seq_length=args.max_length)
    nw = min(args.warm_examples, len(texts))  # the epoch is shuffled: its first rows are a random sample
    x = embed_cached(base_enc, [norm(t) for t in texts[:nw]], f"finetune-warm-{nw}")
    warm = SentimentPipeline(head="logreg", C=1.0, calibrate=False).fit_embeddings(x, [LABELS[i] for i in labels[:nw]])
    del base_enc, x

    model = MeanPoolClassifier.from_base(base, len(LABELS))
    with torch.no_grad():
        model.classifier.weight.copy_(torch.from_numpy(warm.head_.weights[0].T))
        model.classifier.bias.copy_(torch.from_numpy(warm.head_.biases[0]))
    model.encoder.embeddings.word_embeddings.weight.requires_grad_(False)
    for layer in model.encoder.encoder.layer[: args.freeze_layers]:
        layer.requires_grad_(False)
    tok = AutoTokenizer.from_pretrained(str(base))

    class Encoded(torch.utils.data.Dataset):
        def __init__(self) -> None:
            self.enc = tok([args.prefix + norm(t) for t in texts], truncation=True, max_length=args.max_length)

        def __len__(self) -> int:
            return len(labels)

        def __getitem__(self, i: int) -> dict:
            return {"input_ids": self.enc["input_ids"][i], "attention_mask": self.enc["attention_mask"][i],
                    "labels": labels[i]}

    steps_per_epoch = max(1, len(texts) // args.batch_size)
    work = settings.cache_dir / "finetune" / args.version
    targs = TrainingArguments(
        output_dir=str(work), per_device_train_batch_size=args.batch_size, learning_rate=args.lr,
        num_train_epochs=args.epochs, max_steps=args.max_steps, lr_scheduler_type="linear",
        warmup_steps=max(1, int(0.06 * steps_per_epoch * args.epochs)), weight_decay=0.01, logging_steps=20,
        save_strategy="steps", save_steps=args.save_steps, save_total_limit=2,
        report_to=[], use_cpu=True, dataloader_num_workers=0, seed=ds.SEED, train_sampling_strategy="group_by_length",
        disable_tqdm=False)
    trainer = Trainer(model=model, args=targs, train_dataset=Encoded(), data_collator=DataCollatorWithPadding(tok))
    t0 = time.time()
    resume = bool(args.resume and any(work.glob("checkpoint-*")))
    trainer.train(resume_from_checkpoint=True if resume else None)
    train_seconds = time.time() - t0

    out = args.out or (settings.models_dir / "sentiment" / args.version)
    out.mkdir(parents=True, exist_ok=True)
    from collections import Counter

    counts = Counter(origin)
    save_layers(model, out, base, {
        "version": args.version,
        "prefix": args.prefix,
        "max_length": args.max_length,
        "training_data": [{**s.describe(), "sha256": s.sha256(), "examples_per_epoch": counts.get(s.name, 0)}
                          for s in train_sets],
        "training": {"examples_per_epoch": len(texts), "mix": {f"{k[0]}/{k[1]}": v for k, v in ds.MIX.items()},
                     "epochs": args.epochs, "max_steps": args.max_steps, "steps": trainer.state.global_step, "lr": args.lr, "batch_size": args.batch_size,
                     "max_length": args.max_length,
                     "frozen": f"word embeddings and the lowest {args.freeze_layers} of 12 layers",
                     "head_init": "logistic regression on frozen embeddings", "seconds": round(train_seconds),
                     "resumed": resume, "limit": args.limit,
                     "command": "python -m training.finetune_sentiment " + " ".join(argv or sys.argv[1:])},
    })
    print(f"wrote {out} ({trainer.state.global_step} steps of {args.batch_size}, {len(texts)} examples per epoch, "
          f"{train_seconds:.0f}s); next: "
          f"python -m training.export_sentiment {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
