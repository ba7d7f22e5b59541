"""Training images per second of our `paper` networks against the reference implementations'
(torchvision / timm) in the same loop, on the same GPU, same batch, same precision.

    python benchmarks/gpu_step.py [--models resnet,vit] [--batch 128] [--steps 30] [--compile]
    python benchmarks/gpu_step.py --device cpu --models resnet --batch 4 --steps 3   # smoke run

Each step is the trainer's: bf16 autocast (CUDA), channels_last for convolutional nets, fused
AdamW, TF32; forward, cross-entropy, backward, optimizer step, on one random batch kept on the
device (this measures the network and the step, not data loading: benchmarks/data_throughput.py
does that). Warm-up steps are not timed; CUDA is synchronised before reading the clock. Each row
prints both rates and ours / reference (goal >= 1.0). Without CUDA (and no --device) it says so
and measures nothing.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# ours (module, preset) -> the reference constructor with the same architecture
PAIRS = {
    "resnet": ("resnet", "resnet50-v1.5", "torchvision.resnet50"),
    "vit": ("vit", "paper", "timm.vit_base_patch16_224"),
    "vgg": ("vgg", "paper", "torchvision.vgg16"),
    "densenet": ("densenet", "paper", "torchvision.densenet121"),
    "resnext": ("resnext", "paper", "torchvision.resnext50_32x4d"),
    "swin": ("swin", "paper", "timm.swin_tiny_patch4_window7_224"),
    "alexnet": ("alexnet", "torchvision", "torchvision.alexnet"),
}
CONVOLUTIONAL = {"resnet", "vgg", "densenet", "resnext", "alexnet"}


def reference(spec: str):
    library, name = spec.split(".", 1)
    if library == "timm":
        import timm

        return timm.create_model(name, pretrained=False)
    import torchvision

    return getattr(torchvision.models, name)()


def images_per_second(model, device, batch: int, steps: int, warmup: int, channels_last: bool,
                      compile_backend: str | None) -> float:
    import contextlib

    import torch
    import torch.nn.functional as F

    model = model.to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4,
                            fused=True if device.type == "cuda" else None)
    stepped = torch.compile(model, backend=compile_backend) if compile_backend else model
    x = torch.randn(batch, 3, 224, 224, device=device)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 1000, (batch,), device=device)
    amp = (torch.autocast("cuda", torch.bfloat16) if device.type == "cuda"
           else contextlib.nullcontext())

    def step():
        with amp:
            out = stepped(x)
            loss = F.cross_entropy((out[0] if isinstance(out, tuple) else out).float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    model.train()
    for _ in range(warmup):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return batch * steps / (time.perf_counter() - t0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default=",".join(PAIRS))
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--device", default=None, help="default: cuda, or nothing is measured")
    parser.add_argument("--compile", nargs="?", const="inductor", default=None)
    args = parser.parse_args()

    import torch

    from reproductions import REPRODUCTIONS
    from reproductions.common.trainer import fast_math

    if args.device is None and not torch.cuda.is_available():
        print("no CUDA device: nothing measured (run on a GPU machine, or --device cpu for a "
              "smoke run)")
        return 0
    device = torch.device(args.device or "cuda")
    fast_math(device)
    card = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"device: {card}; batch {args.batch}; {args.steps} timed steps after {args.warmup}; "
          f"torch {torch.__version__}; compile: {args.compile or 'no'}")
    print(f"{'model':<10} {'ours img/s':>11} {'reference img/s':>16} {'ratio':>6}  reference")
    for key in args.models.split(","):
        if key not in PAIRS:
            print(f"unknown model {key!r}; choose from {', '.join(PAIRS)}", file=sys.stderr)
            return 2
        name, preset, spec = PAIRS[key]
        module = REPRODUCTIONS[name]
        rates = []
        for which in ("ours", "reference"):
            torch.manual_seed(0)
            model = (module.build_model(module.PRESETS[preset]) if which == "ours"
                     else reference(spec))
            rates.append(images_per_second(model, device, args.batch, args.steps, args.warmup,
                                           key in CONVOLUTIONAL, args.compile))
            del model
            if device.type == "cuda":
                torch.cuda.empty_cache()
        print(f"{key:<10} {rates[0]:>11.4g} {rates[1]:>16.4g} {rates[0] / rates[1]:>6.2f}  {spec}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
