"""Text tokenizers: `(texts, context_length) -> (N, T)` token ids, padded with 0.

`WordTokenizer` is a tiny word-level vocabulary for miniatures on generated captions;
`bpe_tokenizer` is CLIP's byte-pair encoding (Radford et al., 2021, Sec. 2.4), read from the
vocabulary file shipped inside `open_clip` (no download). Both put the end-of-text token at the
largest id, so its position in a row is `argmax` (CLIP's text embedding is read there).
`tokenizer_for(cfg, words)` picks one from a config's `tokenizer` field.
"""

from __future__ import annotations

import re

import torch

from reproductions.common.config import ConfigError


class WordTokenizer:
    """The miniature's tokenizer: lower-case words; unknown words become <unk>.

    Ids: <pad> 0, <unk> 1, <sot> 2, the words, and <eot> last, so that, as in CLIP's BPE
    vocabulary, the end-of-text token has the largest id (its position is `argmax`)."""

    def __init__(self, words: list[str]):
        names = ["<pad>", "<unk>", "<sot>", *sorted(set(words)), "<eot>"]
        self.ids = {w: i for i, w in enumerate(names)}
        self.vocab_size = len(names)

    def __call__(self, texts: list[str], context_length: int) -> torch.Tensor:
        out = torch.zeros(len(texts), context_length, dtype=torch.long)  # (N, T)
        for i, text in enumerate(texts):
            words = [self.ids.get(w, 1) for w in re.findall(r"[a-z]+", text.lower())]
            ids = [self.ids["<sot>"], *words][: context_length - 1] + [self.ids["<eot>"]]
            out[i, : len(ids)] = torch.tensor(ids)
        return out


def bpe_tokenizer():
    """CLIP's byte-pair encoding (49,152 merges + specials = 49,408 tokens), read from the
    vocabulary file inside the `open_clip` package: (texts, context_length) -> (N, 77).
    The tokenizer object itself, not a lambda: DataLoader workers may need to pickle it."""
    from open_clip.tokenizer import SimpleTokenizer

    return SimpleTokenizer()


def tokenizer_for(cfg, words: list[str]):
    """(texts, context_length) -> (N, T) token ids: CLIP's BPE when `cfg.tokenizer == "bpe"`,
    else a `WordTokenizer` over `words`, which must fit in `cfg.vocab_size`."""
    if cfg.tokenizer == "bpe":
        return bpe_tokenizer()
    tok = WordTokenizer(words)
    if tok.vocab_size > cfg.vocab_size:
        raise ConfigError(f"vocab_size={cfg.vocab_size} is smaller than the word tokenizer's "
                          f"{tok.vocab_size} tokens; use --set vocab_size={tok.vocab_size}")
    return tok
