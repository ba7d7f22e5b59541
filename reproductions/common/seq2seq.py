"""Greedy decoding for encoder-decoder models over token ids with PAD/BOS/EOS = 0/1/2 (the
convention of `parallel_text` and of the Transformer's generated task).

The model needs `encode(src (B, S)) -> (memory, memory_mask)` and
`decode(tgt_in (B, T), memory, memory_mask) -> logits (B, T, V)`, as
`reproductions.transformer.Transformer` has. A paper's own decoding (the Transformer's beam
search with a length penalty, Sec. 6.1) stays in the paper's module; greedy decoding is the
beam-1 baseline it is compared with.
"""

from __future__ import annotations

import torch

from reproductions.common.parallel_text import BOS, EOS, PAD


@torch.no_grad()
def greedy_decode(model, src: torch.Tensor, max_new: int) -> list[list[int]]:
    """Pick the most likely next token until EOS or `max_new` tokens; returns token lists."""
    memory, memory_mask = model.encode(src)
    out = torch.full((src.size(0), 1), BOS, dtype=torch.long, device=src.device)  # (B, 1)
    done = torch.zeros(src.size(0), dtype=torch.bool, device=src.device)
    for _ in range(max_new):
        logits = model.decode(out, memory, memory_mask)[:, -1]  # (B, V)
        logits[:, [PAD, BOS]] = float("-inf")  # never generated
        nxt = logits.argmax(-1)  # (B,)
        nxt = nxt.masked_fill(done, PAD)
        out = torch.cat([out, nxt[:, None]], dim=1)
        done |= nxt == EOS
        if done.all():
            break
    return [strip_specials(row) for row in out.tolist()]


def strip_specials(row: list[int]) -> list[int]:
    """Tokens after BOS up to (not including) EOS or padding."""
    out = []
    for t in row[1:]:
        if t in (EOS, PAD):
            break
        out.append(t)
    return out
