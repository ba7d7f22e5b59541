"""Attention models side by side: our Transformer and CLIP vs PyTorch's and open_clip's.

1. Transformer base (Table 3), one training step: ours (`reproductions.transformer`) vs
   `torch.nn.Transformer(512, 8, 6, 6, 2048, batch_first=True)` wrapped in the same shared
   37,000-token embedding, sinusoidal encoding and tied output projection. Both: the same token
   batch, label-smoothed cross-entropy (0.1), Adam (0.9, 0.98, 1e-9), dropout `--dropout` (ours
   drops sublayer outputs as Sec. 5.4 says; torch also drops attention weights and the
   feed-forward hidden layer). bf16 autocast on CUDA for both. Reported in tokens/s (source +
   target tokens per second).
2. CLIP ViT-B/32, forward (inference, `torch.no_grad`): ours vs `open_clip.create_model("ViT-B-32")`
   (random weights, nothing downloaded) with our model loaded from its state_dict; a batch of
   images and as many 77-token captions; images/s.

The two sides are timed alternately, best of `--repeat` rounds, so that a change in the machine's
load hits both. Prints the ratio ours / reference (goal >= 1.0).
Usage: `python benchmarks/model_speed_attention.py [--batch 8] [--length 32] [--steps 2]
[--repeat 3] [--device cpu|cuda] [--only transformer|clip] [--clock wall|cpu]`; `benchmarks/model_speed.py` runs
both cases too (`--only transformer_base,clip_vit_b32`).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import math
import time

import torch
import torch.nn.functional as F
from torch import nn

from reproductions import clip, transformer
from reproductions.common.open_clip_weights import load_open_clip_state_dict
from reproductions.common.text_tokenizers import bpe_tokenizer


class TorchTransformer(nn.Module):
    """torch.nn.Transformer with our embedding, encoding and tied output, for a like-for-like step."""

    def __init__(self, cfg: transformer.Config):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.out_bias = nn.Parameter(torch.zeros(cfg.vocab_size))
        self.register_buffer("pe", transformer.sinusoidal_encoding(cfg.max_positions, cfg.d_model))
        self.body = nn.Transformer(cfg.d_model, cfg.n_heads, cfg.n_layers, cfg.n_layers, cfg.d_ff,
                                   dropout=cfg.dropout, batch_first=True)
        self.drop = nn.Dropout(cfg.dropout)

    def _embed(self, tokens):
        return self.drop(self.embed(tokens) * math.sqrt(self.cfg.d_model) + self.pe[: tokens.size(1)])

    def forward(self, src, tgt_in):
        causal = nn.Transformer.generate_square_subsequent_mask(tgt_in.size(1), device=src.device)
        pad = src == transformer.PAD
        h = self.body(self._embed(src), self._embed(tgt_in), tgt_mask=causal, tgt_is_causal=True,
                      src_key_padding_mask=pad, memory_key_padding_mask=pad)
        return F.linear(h, self.embed.weight, self.out_bias)


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}  # cpu: this process's CPU seconds


def _best_of(runs: dict, steps: int, repeat: int, device, clock=time.perf_counter) -> dict[str, float]:
    """Seconds per call of each `runs[name]()`, best of `repeat` rounds of `steps` calls."""
    best = dict.fromkeys(runs, float("inf"))
    for fn in runs.values():
        fn()  # warm-up
    for _ in range(repeat):
        for name, fn in runs.items():
            _sync(device)
            t0 = clock()
            for _ in range(steps):
                fn()
            _sync(device)
            best[name] = min(best[name], (clock() - t0) / steps)
    return best


def bench_transformer(batch: int, steps: int, repeat: int, device: torch.device,
                      length: int = 32, dropout: float = 0.1, clock=time.perf_counter) -> float:
    cfg = dataclasses.replace(transformer.PRESETS["paper"], dropout=dropout)
    torch.manual_seed(0)
    ours, reference = transformer.build_model(cfg).to(device), TorchTransformer(cfg).to(device)
    g = torch.Generator().manual_seed(0)
    src = torch.randint(3, cfg.vocab_size, (batch, length), generator=g).to(device)
    tgt = torch.randint(3, cfg.vocab_size, (batch, length + 1), generator=g).to(device)
    amp = torch.autocast("cuda", torch.bfloat16) if device.type == "cuda" else contextlib.nullcontext()

    def step(model, opt):
        def run():
            with amp:
                logits = model(src, tgt[:, :-1])
                loss = F.cross_entropy(logits.flatten(0, 1).float(), tgt[:, 1:].flatten(),
                                       label_smoothing=0.1)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        return run

    adam = lambda m: torch.optim.Adam(m.parameters(), lr=1e-4, betas=(0.9, 0.98), eps=1e-9)  # noqa: E731
    best = _best_of({"ours": step(ours.train(), adam(ours)),
                     "torch.nn.Transformer": step(reference.train(), adam(reference))},
                    steps, repeat, device, clock)
    tokens = batch * (2 * length)
    print(f"Transformer base training step, batch {batch} x {length}+{length} tokens, "
          f"dropout {dropout}, {device}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads (best of {repeat} x {steps} steps)")
    for name, s in best.items():
        print(f"  {name:22s} {tokens / s:10.1f} tokens/s  ({s:.3f} s/step)")
    ratio = best["torch.nn.Transformer"] / best["ours"]
    print(f"  ratio ours / torch.nn.Transformer: {ratio:.3f} (goal >= 1.0)")
    return ratio


def bench_clip(batch: int, steps: int, repeat: int, device: torch.device,
               clock=time.perf_counter) -> float:
    import open_clip

    torch.manual_seed(0)
    reference = open_clip.create_model("ViT-B-32").to(device).eval()
    ours = clip.build_model(clip.PRESETS["paper"]).eval()
    load_open_clip_state_dict(ours, reference.state_dict())
    ours = ours.to(device)
    images = torch.randn(batch, 3, 224, 224, generator=torch.Generator().manual_seed(0)).to(device)
    text = bpe_tokenizer()([f"a photo of a {i}." for i in range(batch)], 77).to(device)
    amp = torch.autocast("cuda", torch.bfloat16) if device.type == "cuda" else contextlib.nullcontext()

    def forward(model):
        def run():
            with torch.no_grad(), amp:
                model.encode_image(images), model.encode_text(text)
        return run

    best = _best_of({"ours": forward(ours), "open_clip": forward(reference)},
                    steps, repeat, device, clock)
    print(f"CLIP ViT-B/32 forward (image + text towers), batch {batch}, {device}, "
          f"{torch.get_num_threads()} threads (best of {repeat} x {steps})")
    for name, s in best.items():
        print(f"  {name:22s} {batch / s:10.1f} pairs/s  ({s:.3f} s/batch)")
    ratio = best["open_clip"] / best["ours"]
    print(f"  ratio ours / open_clip: {ratio:.3f} (goal >= 1.0)")
    return ratio


CASES = {"transformer_base": bench_transformer, "clip_vit_b32": bench_clip}  # model_speed.py runs these


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--length", type=int, default=32, help="source and target tokens")
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--only", choices=["transformer", "clip"])
    parser.add_argument("--clock", choices=list(CLOCKS), default="wall",
                        help="cpu: process CPU time, robust to other jobs when run with 1 thread")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    clock = CLOCKS[args.clock]
    print(f"clock: {args.clock}")
    if args.only in (None, "transformer"):
        bench_transformer(args.batch, args.steps, args.repeat, device, args.length, args.dropout, clock)
    if args.only in (None, "clip"):
        bench_clip(args.batch, args.steps, args.repeat, device, clock)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
