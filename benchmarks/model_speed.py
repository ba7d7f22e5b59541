"""Training-step throughput of our image classifiers vs timm's, side by side.

Each case builds our network and the reference, loads the reference's state_dict into ours (so
both compute the same function), and times one training step (forward, cross-entropy, backward,
SGD step) on the same batch: images/s (best round). The two sides run back to back in each of
`--repeat` rounds, alternating which goes first; the printed ratio ours / reference (goal >= 1.0)
is the median of the per-round ratios, which a shared machine's load swings disturb far less
than a ratio of two bests. bf16 autocast on CUDA, fp32 on CPU.

Cases (add one to CASES: a name, two constructors, an input shape):
  resnet50   ours in the v1.5 layout (the same computation as timm's) vs timm `resnet50`;
             the paper's layout (stride on the 1x1) is timed too, for information only
  vit_b16    ours vs timm `vit_base_patch16_224`
  transformer_base, clip_vit_b32   token inputs and their own steps: see model_speed_attention.py
  ssd300     ours vs torchvision `ssd300_vgg16`, boxes and the multibox loss: model_speed_detection.py

Usage: `python benchmarks/model_speed.py [--batch 8] [--steps 2] [--repeat 3]
[--device cpu|cuda] [--only resnet50,vit_b16] [--clock wall|cpu]`.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass

import timm
import torch
import torch.nn.functional as F

from reproductions import resnet, vit


@dataclass(frozen=True)
class Case:
    name: str
    ours: Callable[[], torch.nn.Module]
    reference: Callable[[], torch.nn.Module]
    image_shape: tuple[int, int, int] = (3, 224, 224)
    num_classes: int = 1000
    load_reference_weights: bool = True  # same function on both sides


CASES = [
    Case("resnet50", lambda: resnet.build_model(resnet.PRESETS["resnet50-v1.5"]),
         lambda: timm.create_model("resnet50")),
    Case("resnet50 (paper layout, info)", lambda: resnet.build_model(resnet.PRESETS["resnet50"]),
         lambda: timm.create_model("resnet50")),
    Case("vit_b16", lambda: vit.build_model(vit.PRESETS["paper"]),
         lambda: timm.create_model("vit_base_patch16_224")),
]


def step_time(model, x, y, steps: int, device: torch.device, clock=time.perf_counter) -> float:
    """Seconds per training step, after one warm-up step. `clock=time.process_time` counts this
    process's CPU seconds: with one thread, the wall time of a quiet machine."""
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    amp = torch.autocast("cuda", torch.bfloat16) if device.type == "cuda" else contextlib.nullcontext()

    def one():
        with amp:
            loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    one()
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = clock()
    for _ in range(steps):
        one()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (clock() - t0) / steps


def measure(case: Case, batch: int, steps: int, repeat: int, device: torch.device,
            clock=time.perf_counter) -> dict:
    torch.manual_seed(0)
    reference = case.reference().to(device).train()
    ours = case.ours().to(device).train()
    if case.load_reference_weights:
        ours.load_state_dict(reference.state_dict())
    x = torch.randn(batch, *case.image_shape, device=device)
    y = torch.randint(0, case.num_classes, (batch,), device=device)
    times: dict[str, list[float]] = {"ours": [], "reference": []}
    for i in range(repeat):  # back to back, alternating who goes first
        sides = [("ours", ours), ("reference", reference)]
        for side, model in sides if i % 2 == 0 else sides[::-1]:
            times[side].append(step_time(model, x, y, steps, device, clock))
    ratios = sorted(r / o for o, r in zip(times["ours"], times["reference"], strict=True))
    return {"case": case.name, "ours": batch / min(times["ours"]),
            "reference": batch / min(times["reference"]), "ratio": ratios[len(ratios) // 2]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=2, help="timed steps per round")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the best is kept")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--only", help="comma-separated case names (prefix match)")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="cpu: this process's CPU seconds (use with OMP_NUM_THREADS=1)")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    wanted = args.only.split(",") if args.only else None
    cases = [c for c in CASES if wanted is None or any(c.name.startswith(w) for w in wanted)]
    print(f"device {device}, {args.clock} clock, {torch.get_num_threads()} threads, "
          f"batch {args.batch}, {args.repeat} rounds x {args.steps} steps, "
          f"torch {torch.__version__}, timm {timm.__version__}")
    print(f"{'case':<32} {'ours img/s':>11} {'timm img/s':>11} {'median ratio':>12}")
    for case in cases:
        clock = time.process_time if args.clock == "cpu" else time.perf_counter
        r = measure(case, args.batch, args.steps, args.repeat, device, clock)
        print(f"{r['case']:<32} {r['ours']:>11.2f} {r['reference']:>11.2f} {r['ratio']:>12.2f}",
              flush=True)
    import model_speed_attention  # the Transformer and CLIP cases (this script's folder is on sys.path)

    for name, bench in model_speed_attention.CASES.items():
        if wanted is None or any(name.startswith(w) for w in wanted):
            bench(args.batch, args.steps, args.repeat, device)
    if wanted is None or any("ssd300".startswith(w) for w in wanted):
        import model_speed_detection  # the SSD300 case: images with boxes, its own step

        model_speed_detection.bench_ssd300(args.batch, args.steps, args.repeat, device)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
