"""What each `paper` preset needs in GPU memory, measured on the CPU: the largest batch per
process that fits one 80 GB GPU, against the paper's batch.

    python benchmarks/paper_memory.py [--gpu-gib 80] [--models resnet,vit,...]

For each preset: parameters P; the training state at 16 bytes per parameter (fp32 weights,
gradients, and Adam's two moments; SGD with momentum needs 12); the activations autograd saves
for the backward pass, measured by summing the bytes of every tensor saved in one forward pass
(distinct storages, `torch.autograd.graph.saved_tensors_hooks`) in float32, per
sample (per 1,000 tokens for the Transformer), from passes over 1 and 3 samples (what does not
grow with the batch is counted with the state). The fitting batch is (90% of the GPU - state) /
activations per sample: an estimate that leaves out the allocator's fragmentation and kernels'
workspaces, hence the 10% kept back. Measured in float32 (the CPU here has no fast bf16:
autocast made the pass minutes long); under the trainer's bf16 autocast on a GPU most saved
activations take half the bytes, so the batches here are a floor. Where the paper's batch does not fit, `--accumulate K`
(or K processes under torchrun) reaches it: the table says which K.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# (module, preset, the paper's batch, what one sample is)
PRESETS = [
    ("alexnet", "paper", 128, "image"), ("vgg", "paper", 256, "image"),
    ("googlenet", "paper", 32, "image"), ("resnet", "paper", 256, "image"),
    ("resnet", "resnet152", 256, "image"), ("densenet", "paper", 256, "image"),
    ("resnext", "paper", 256, "image"), ("vit", "paper", 4096, "image"),
    ("vit", "vit-l16", 4096, "image"), ("vit", "vit-h14", 4096, "image"),
    ("swin", "paper", 1024, "image"), ("clip", "paper", 32768, "image+text"),
    ("transformer", "paper", 25, "1k tokens"), ("transformer", "big", 25, "1k tokens"),
]


def _saved_bytes(run) -> int:
    """Bytes of the distinct storages autograd saves while `run()` executes a forward pass."""
    import torch

    seen: dict[int, int] = {}

    def pack(t):
        try:
            storage = t.untyped_storage()
            seen[storage.data_ptr()] = storage.nbytes()
        except (RuntimeError, NotImplementedError):  # a tensor without storage: not counted
            pass
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        run()
    return sum(seen.values())


def saved_per_batch(name: str, module, cfg, n: int) -> int:
    """Saved bytes of one forward pass over `n` samples (images, image-caption pairs, or
    4 pairs of 125 + 125 tokens = 1,000 tokens for the Transformer)."""
    import torch

    torch.manual_seed(0)
    model = module.build_model(cfg).train()
    if name == "transformer":
        src = torch.randint(4, 100, (4 * n, 125))
        tgt = torch.randint(4, 100, (4 * n, 126))
        return _saved_bytes(lambda: module.training_step(model, (src, tgt))["loss"])
    size = getattr(cfg, "image_size", 224) or 224
    size = 224 if size < 64 else size
    x = torch.randn(n, 3, size, size)
    if name == "clip":
        tokens = torch.randint(1, 1000, (n, cfg.context_length))
        return _saved_bytes(lambda: module.training_step(model, (x, tokens))["loss"])
    y = torch.randint(0, 1000, (n,))
    return _saved_bytes(lambda: module.training_step(model, (x, y))["loss"])


def per_sample(name: str, module, cfg) -> tuple[float, float]:
    """(bytes per sample, bytes per step whatever the batch): from batches of 1 and 3, since
    some saved tensors do not grow with the batch (under autocast, the weights' bf16 copies)."""
    one, three = (saved_per_batch(name, module, cfg, n) for n in (1, 3))
    sample = (three - one) / 2
    return sample, max(0.0, one - sample)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gpu-gib", type=float, default=80.0)
    parser.add_argument("--models", default=None, help="comma-separated module names")
    args = parser.parse_args()

    import torch

    from reproductions import REPRODUCTIONS

    torch.set_grad_enabled(True)
    usable = 0.9 * args.gpu_gib * 2**30
    wanted = set(args.models.split(",")) if args.models else None
    print(f"one {args.gpu_gib:g} GiB GPU, 90% usable; activations in float32 (bf16 needs about "
          "half); Adam state 16 B/parameter")
    print("| preset | parameters | training state | activations / sample | fits per GPU | "
          "the paper's batch | to reach it |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for name, preset, paper_batch, unit in PRESETS:
        if wanted and name not in wanted:
            continue
        module = REPRODUCTIONS[name]
        cfg = module.PRESETS[preset]
        params = sum(p.numel() for p in module.build_model(cfg).parameters())
        act, fixed = per_sample(name, module, cfg)
        state = 16 * params + fixed  # + what is saved once per step
        fits = max(0, math.floor((usable - state) / act)) if act else 0
        if fits >= paper_batch:
            reach = "fits on one GPU"
        elif fits == 0:
            reach = "does not fit: shard the optimizer state (FSDP), not provided here"
        else:
            # the fewest micro-batches (or GPUs) that split the paper's batch evenly
            k = next(d for d in range(math.ceil(paper_batch / fits), paper_batch + 1)
                     if paper_batch % d == 0)
            reach = f"`--accumulate {k}` (batch_size {paper_batch // k}) or {k} GPUs"
        print(f"| {name} `{preset}` | {params / 1e6:,.1f}M | {state / 2**30:,.1f} GiB | "
              f"{act / 2**20:,.1f} MiB / {unit} | {fits:,} | {paper_batch:,} | {reach} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
