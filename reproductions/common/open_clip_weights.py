"""Weights of `open_clip` / OpenAI's released CLIP models loaded into `reproductions.clip.CLIP`.

Their checkpoints name the blocks as OpenAI's `model.py` does (`resblocks`, `ln_1`, `c_fc`, ...);
ours reuse ViT's (`reproductions.vit.Block`) and the Transformer's (`EncoderLayer`) names. The
modified ResNet's and the other top-level names are the same on both sides, so they load as is.
Used by the equivalence tests (our outputs == open_clip's with the same weights) and benchmarks.
"""

from __future__ import annotations

import re

import torch
from torch import nn


def load_open_clip_state_dict(model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Load an `open_clip` / OpenAI CLIP state_dict into `model` (their key names mapped to ours)."""
    common = [(r"\.ln_1\.", ".norm1."), (r"\.ln_2\.", ".norm2.")]
    image = [(r"^visual\.transformer\.resblocks\.", "visual.blocks."), *common,  # ViT's names
             (r"\.attn\.in_proj_", ".attn.qkv."), (r"\.attn\.out_proj\.", ".attn.proj."),
             (r"\.mlp\.c_fc\.", ".mlp.fc1."), (r"\.mlp\.c_proj\.", ".mlp.fc2.")]
    text = [(r"^transformer\.resblocks\.", "transformer."), *common,  # the Transformer's names
            (r"\.attn\.in_proj_", ".self_attn.in_proj."), (r"\.attn\.out_proj\.", ".self_attn.out_proj."),
            (r"\.mlp\.c_fc\.", ".ff.linear1."), (r"\.mlp\.c_proj\.", ".ff.linear2.")]
    mapped = {}
    for key, value in state.items():
        if key in ("input_resolution", "context_length", "vocab_size"):
            continue  # OpenAI's jit checkpoints carry these as tensors
        rules = image if key.startswith("visual.transformer.") else text if key.startswith("transformer.") else []
        for pattern, repl in rules:
            key = re.sub(pattern, repl, key)
        mapped[key] = value
    model.load_state_dict(mapped)
