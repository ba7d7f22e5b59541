"""The GPU path (`gpu`-marked: skipped without CUDA, run with `scripts/test.sh -m gpu` on a GPU
machine): each image model's `paper` preset trains a few steps in bf16 autocast with TF32, fused
AdamW and channels_last, and a compiled step gives finite, falling losses."""

from __future__ import annotations

import dataclasses
import types

import pytest
import torch

from reproductions import REPRODUCTIONS
from reproductions.common.trainer import TrainOptions, train

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]

# the ImageNet image models whose `paper` preset takes 224 x 224 (AlexNet 227) pictures
IMAGE_MODELS = ("alexnet", "vgg", "googlenet", "resnet", "densenet", "resnext", "vit", "swin")


def _fixed_batches(module, cfg, batch: int = 8):
    """One random ImageNet-shaped batch, repeated: the step must fit it (loss falls)."""
    size = getattr(cfg, "image_size", 224) or 224
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, 3, size, size, generator=g)
    y = torch.randint(0, 1000, (batch,), generator=g)
    return [(x, y)] * 4, (x, y)


@pytest.mark.parametrize("name", IMAGE_MODELS)
@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_paper_preset_trains_on_cuda_in_bf16_with_falling_loss(name, compiled):
    module = REPRODUCTIONS[name]
    cfg = dataclasses.replace(module.PRESETS["paper"], steps=6, batch_size=8)
    losses = []

    def step(model, batch):
        out = module.training_step(model, batch)
        losses.append(float(out["loss"].detach()))
        return out

    shim = types.SimpleNamespace(**{k: getattr(module, k) for k in dir(module)
                                    if not k.startswith("__")})
    shim.training_step = step
    shim.build_data = lambda c: _fixed_batches(module, c)
    model = train(shim, cfg, device=torch.device("cuda"),
                  options=TrainOptions(channels_last=True,
                                       compile="inductor" if compiled else None))
    assert next(model.parameters()).is_cuda
    assert all(torch.isfinite(torch.tensor(losses)))
    assert losses[-1] < losses[0], losses
    assert torch.backends.cuda.matmul.allow_tf32
