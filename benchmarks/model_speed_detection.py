"""Training-step throughput: our SSD300 (`reproductions.ssd`) vs torchvision's `ssd300_vgg16`.

Both networks: VOC's 21 classes, 300x300 inputs, random initialisation (torchvision is built with
`weights_backbone=None`, so nothing is downloaded), every layer trainable, SGD (lr 1e-3, momentum
0.9, weight decay 5e-4) as in Sec. 3 of the paper. Both get the same images and the same boxes.
A step is: forward, matching, loss with hard negative mining, backward, optimizer step. The two
are timed alternately, each round starting with the other side, so that a change in the
machine's load hits both; the best of `--repeat` rounds is kept.

Prints images/s of each and the ratio ours / torchvision (goal >= 1.0). `--clock cpu` times
this process's CPU seconds instead of the wall clock (steadier on a shared machine; use it with
one thread). `benchmarks/model_speed.py` runs this case too (`--only ssd300`).
Usage: `python benchmarks/model_speed_detection.py [--batch 4] [--steps 2] [--repeat 3]
[--device cpu|cuda] [--clock wall|cpu]`.
"""

from __future__ import annotations

import argparse
import time

import torch
import torchvision

from reproductions import ssd
from reproductions.common.detection_data import VGG_MEAN


def make_batch(batch: int, seed: int = 0):
    """Images in [0, 1] (B, 3, 300, 300) and 1-3 random boxes per image (pixels and [0, 1])."""
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(batch, 3, 300, 300, generator=g)
    targets = []
    for _ in range(batch):
        n = int(torch.randint(1, 4, (), generator=g))
        xy = torch.rand(n, 2, generator=g) * 0.6
        wh = 0.1 + torch.rand(n, 2, generator=g) * 0.3
        targets.append({"boxes": torch.cat([xy, xy + wh], 1),
                        "labels": torch.randint(1, 21, (n,), generator=g)})
    return images, targets


def sgd(model: torch.nn.Module) -> torch.optim.Optimizer:
    return torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9, weight_decay=5e-4)


def ours_step(model, opt, images, targets):
    mean = torch.tensor(VGG_MEAN, device=images.device).view(1, 3, 1, 1)
    batch = ((images - mean) * 255, targets)  # the VOC loader's input scaling
    loss = ssd.training_step(model, batch)["loss"]
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def torchvision_step(model, opt, images, targets):
    pixel_targets = [{"boxes": t["boxes"] * 300, "labels": t["labels"]} for t in targets]
    losses = model(list(images), pixel_targets)  # its transform normalises (and resizes to 300)
    loss = losses["bbox_regression"] + losses["classification"]
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def time_steps(step, model, opt, images, targets, steps: int, device: torch.device,
               clock=time.perf_counter) -> float:
    """Seconds per step, averaged over `steps` steps after one warm-up step."""
    step(model, opt, images, targets)
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = clock()
    for _ in range(steps):
        step(model, opt, images, targets)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (clock() - t0) / steps


def bench_ssd300(batch: int, steps: int, repeat: int, device: torch.device,
                 clock: str = "wall") -> float:
    """Print images/s of both sides and return the ratio ours / torchvision."""
    torch.manual_seed(0)
    ours = ssd.build_model(ssd.PRESETS["paper"]).to(device).train()
    reference = torchvision.models.detection.ssd300_vgg16(
        num_classes=21, weights_backbone=None).to(device).train()
    images, targets = make_batch(batch)
    images = images.to(device)
    targets = [{k: v.to(device) for k, v in t.items()} for t in targets]
    best = {"ours": float("inf"), "torchvision": float("inf")}
    runs = {"ours": (ours_step, ours, sgd(ours)),
            "torchvision": (torchvision_step, reference, sgd(reference))}
    for r in range(repeat):
        order = list(runs) if r % 2 == 0 else list(runs)[::-1]  # neither side always goes first
        for name in order:
            step, model, opt = runs[name]
            seconds = time_steps(step, model, opt, images, targets, steps, device, CLOCKS[clock])
            best[name] = min(best[name], seconds)
    rate = {name: batch / s for name, s in best.items()}
    ratio = rate["ours"] / rate["torchvision"]
    print(f"SSD300 training step, batch {batch}, {device}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, {clock} clock (best of {repeat} x {steps} steps)")
    for name in ("ours", "torchvision"):
        print(f"  {name:12s} {rate[name]:8.3f} images/s  ({best[name]:.3f} s/step)")
    print(f"  ratio ours / torchvision: {ratio:.3f} (goal >= 1.0)", flush=True)
    return ratio


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--steps", type=int, default=2, help="timed steps per round")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the best is kept")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--clock", choices=list(CLOCKS), default="wall")
    args = parser.parse_args(argv)
    bench_ssd300(args.batch, args.steps, args.repeat, torch.device(args.device), args.clock)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
