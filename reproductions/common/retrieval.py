"""Image <-> text retrieval recall@k for a dual encoder (CLIP, Radford et al., 2021, Appendix E:
zero-shot Flickr30k and MSCOCO retrieval): each caption ranks the images, each image the captions.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from reproductions.common.captions import CaptionPairs


def retrieval_recall(image_emb: torch.Tensor, text_emb: torch.Tensor, image_of: torch.Tensor,
                     ks=(1, 5)) -> dict[str, float]:
    """Recall@k both ways for I images (I, E) and N captions (N, E), caption n describing image
    `image_of[n]` (an image may have several captions): image -> text counts an image whose
    top k captions hold one of its own; text -> image a caption whose top k images hold its own."""
    image_emb, text_emb = F.normalize(image_emb, dim=-1), F.normalize(text_emb, dim=-1)
    sim = text_emb @ image_emb.t()  # (N, I): cosine of caption n and image i
    out = {}
    for k in ks:
        top_images = sim.topk(min(k, sim.size(1)), dim=1).indices  # (N, k)
        top_texts = sim.t().topk(min(k, sim.size(0)), dim=1).indices  # (I, k)
        own = torch.arange(sim.size(1)).unsqueeze(1)  # (I, 1)
        out[f"image_to_text_recall@{k}"] = (image_of[top_texts] == own).any(1).float().mean().item()
        out[f"text_to_image_recall@{k}"] = (top_images == image_of.unsqueeze(1)).any(1).float().mean().item()
    return out


@torch.no_grad()
def retrieval_metrics(model, pairs: CaptionPairs, cfg) -> dict[str, float]:
    """Image <-> text recall@1 and @5 over `pairs`, embedded by `model.encode_image` and
    `model.encode_text` in batches (at most 256, `cfg.batch_size`, `cfg.num_workers`); lines
    naming the same image file count as one image with several captions."""
    device = next(model.parameters()).device
    loader = torch.utils.data.DataLoader(pairs, batch_size=min(cfg.batch_size, 256),
                                         num_workers=cfg.num_workers)
    image_emb, text_emb = [], []
    for images, tokens in loader:  # (B, 3, H, W), (B, T)
        image_emb.append(model.encode_image(images.to(device)).float().cpu())
        text_emb.append(model.encode_text(tokens.to(device)).float().cpu())
    first: dict[Path, int] = {}
    for i, f in enumerate(pairs.files):
        first.setdefault(f, i)  # the line where each image is first listed
    column = {f: j for j, f in enumerate(first)}
    image_of = torch.tensor([column[f] for f in pairs.files])  # (N,)
    images = torch.cat(image_emb)[list(first.values())]  # (I, E)
    return retrieval_recall(images, torch.cat(text_emb), image_of)
