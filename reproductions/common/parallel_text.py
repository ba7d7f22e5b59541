"""Aligned parallel text for translation reproductions (the Transformer on real data).

A data folder holds plain text, one sentence per line, the two languages aligned line by line:

    DIR/train.en  DIR/train.de      training pairs
    DIR/test.en   DIR/test.de       evaluation pairs (DIR/valid.* when there is no test split)

`load_corpus` reads it, trains a shared source-target byte-pair encoding on the training text
with Hugging Face `tokenizers` (Sec. 5.1 of "Attention Is All You Need": one vocabulary of
~37,000 tokens for both languages) and encodes both splits. The tokenizer stays in memory for
the run (`load_corpus` is cached); nothing is written into the data folder.

Byte-level BPE (GPT-2's): the base alphabet is the 256 bytes, so every test sentence can be
encoded without an unknown token and decoded back to its exact text. Ids 0, 1, 2 are the
special tokens PAD, BOS, EOS, as the models expect.
"""

from __future__ import annotations

import functools
import itertools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from reproductions.common.config import ConfigError

if TYPE_CHECKING:
    from tokenizers import Tokenizer

log = logging.getLogger("reproductions")
SPECIAL_TOKENS = ("<pad>", "<s>", "</s>")  # ids 0, 1, 2: PAD, BOS, EOS
PAD, BOS, EOS = 0, 1, 2
N_BYTES = 256  # the byte-level base alphabet, always in the vocabulary


# --- reading --------------------------------------------------------------------------------
def read_lines(path: Path) -> list[str]:
    """The file's lines without their line ends. Only '\\n' ends a line: a stray '\\r' or
    U+2028 inside a sentence must not shift the alignment (str.splitlines would)."""
    with open(path, encoding="utf-8", newline="\n") as f:
        lines = [line.rstrip("\r\n") for line in f]
    if not any(lines):
        raise ConfigError(f"{path} is empty")
    return lines


def split_paths(root: Path, src_lang: str, tgt_lang: str) -> dict[str, tuple[Path, Path]]:
    """{"train": (src, tgt), "test" or "valid": (src, tgt)}; a ConfigError names what is missing."""
    if not root.is_dir():
        raise ConfigError(f"data_root {root} is not a folder")

    def pair(split):
        return root / f"{split}.{src_lang}", root / f"{split}.{tgt_lang}"

    for path in pair("train"):
        if not path.is_file():
            raise ConfigError(f"missing {path} (data_root holds train.{src_lang} + train.{tgt_lang})")
    for split in ("test", "valid"):
        paths = pair(split)
        if all(p.is_file() for p in paths):
            return {"train": pair("train"), split: paths}
    missing = next(p for p in pair("test") if not p.is_file())
    raise ConfigError(f"missing {missing} (and no valid.{src_lang} + valid.{tgt_lang} instead)")


def read_aligned(src_path: Path, tgt_path: Path) -> tuple[list[str], list[str]]:
    src, tgt = read_lines(src_path), read_lines(tgt_path)
    if len(src) != len(tgt):
        raise ConfigError(f"{src_path} has {len(src)} lines but {tgt_path} has {len(tgt)}; "
                          "the two sides must be aligned line by line")
    return src, tgt


# --- byte-pair encoding ---------------------------------------------------------------------
def train_bpe(texts: Sequence[str], vocab_size: int) -> Tokenizer:
    """Sec. 5.1: one BPE vocabulary of `vocab_size` tokens shared by source and target, learnt
    from both sides of the training text (fewer tokens only if the text runs out of merges)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    smallest = len(SPECIAL_TOKENS) + N_BYTES
    if vocab_size < smallest:
        raise ConfigError(f"vocab_size={vocab_size} is too small for a byte-level BPE: it needs "
                          f">= {smallest} (256 bytes + PAD/BOS/EOS); the paper uses 37000")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(SPECIAL_TOKENS),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(texts, trainer, length=len(texts))
    ids = [tok.token_to_id(t) for t in SPECIAL_TOKENS]
    assert ids == [PAD, BOS, EOS], f"special token ids {ids}"  # the trainer adds them first
    tok.encode_special_tokens = True  # a literal "<s>" in a sentence is text, not BOS
    return tok


@dataclass(frozen=True)
class Encoded:
    """Token ids of many lines, flat: line i is ids[starts[i] : starts[i] + lengths[i]].
    Flat int32 arrays, not millions of Python lists (WMT 2014 EN-DE has 4.5M pairs)."""

    ids: np.ndarray  # (sum of lengths,) int32
    starts: np.ndarray  # (n_lines,) int64
    lengths: np.ndarray  # (n_lines,) int64

    def line(self, i: int) -> torch.Tensor:
        return torch.from_numpy(self.ids[self.starts[i] : self.starts[i] + self.lengths[i]]).long()


def encode(tok: Tokenizer, lines: Sequence[str], chunk: int = 10_000) -> Encoded:
    """Token ids of each line (no special tokens), encoded in parallel by `tokenizers`."""
    ids, lengths = [], []
    for i in range(0, len(lines), chunk):
        batch = [e.ids for e in tok.encode_batch_fast(list(lines[i : i + chunk]))]
        lengths.append(np.fromiter(map(len, batch), np.int64, len(batch)))
        ids.append(np.fromiter(itertools.chain.from_iterable(batch), np.int32))
    lengths_ = np.concatenate(lengths)
    starts = np.concatenate([[0], np.cumsum(lengths_)[:-1]]).astype(np.int64)
    return Encoded(np.concatenate(ids), starts, lengths_)


# --- datasets -------------------------------------------------------------------------------
class PairDataset(torch.utils.data.Dataset):
    """The `kept` lines of two encoded sides as pairs: item i = (src (S,), tgt (T,)) with
    src = tokens + EOS and tgt = BOS + tokens + EOS."""

    def __init__(self, src: Encoded, tgt: Encoded, kept: np.ndarray):
        self.src, self.tgt, self.kept = src, tgt, kept

    def __len__(self) -> int:
        return len(self.kept)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        j = int(self.kept[i])
        bos, eos = torch.tensor([BOS]), torch.tensor([EOS])
        return torch.cat([self.src.line(j), eos]), torch.cat([bos, self.tgt.line(j), eos])

    def padded(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Every pair, right-padded: src (N, S), tgt (N, T)."""
        return pad_batch([self[i] for i in range(len(self))])


def pad_batch(items: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad a list of pairs with PAD to the longest of each side: (B, S), (B, T)."""
    pad = functools.partial(torch.nn.utils.rnn.pad_sequence, batch_first=True, padding_value=PAD)
    return pad([s for s, _ in items]), pad([t for _, t in items])


class TokenBatches(torch.utils.data.Sampler):
    """Batches by token count (Vaswani et al., Sec. 5.1: "batched together by approximate
    sequence length", about 25,000 source and 25,000 target tokens a batch).

    The pairs are sorted by length once and cut into batches whose padded size (pairs x the
    longest) stays within `max_tokens` on each side, so batches hold many short pairs or few
    long ones and little padding. The batches are fixed; every epoch draws a new order of them
    from `generator` (the DataLoader's, so that a resumed run, which replays the draws, sees
    the batches an uninterrupted run would)."""

    def __init__(self, src_lengths: np.ndarray, tgt_lengths: np.ndarray, max_tokens: int,
                 generator: torch.Generator):
        longest = int(max(src_lengths.max(), tgt_lengths.max()))
        if longest > max_tokens:
            raise ConfigError(f"max_tokens={max_tokens} is smaller than the longest pair "
                              f"({longest} tokens); raise it or lower max_positions")
        order = np.lexsort((np.arange(len(src_lengths)), src_lengths, tgt_lengths))
        self.batches: list[list[int]] = []
        current: list[int] = []
        wide_src = wide_tgt = 0
        for i in order.tolist():
            s, t = max(wide_src, int(src_lengths[i])), max(wide_tgt, int(tgt_lengths[i]))
            if current and (len(current) + 1) * max(s, t) > max_tokens:
                self.batches.append(current)
                current, s, t = [], int(src_lengths[i]), int(tgt_lengths[i])
            current.append(i)
            wide_src, wide_tgt = s, t
        if current:
            self.batches.append(current)
        self.generator = generator

    def __iter__(self):
        for b in torch.randperm(len(self.batches), generator=self.generator).tolist():
            yield self.batches[b]

    def __len__(self) -> int:
        return len(self.batches)


def batches(data: PairDataset, batch_size: int, seed: int,
            max_tokens: int = 0) -> torch.utils.data.DataLoader:
    """Shuffled batches of padded pairs, the same order in every process (seeded): `batch_size`
    pairs each, or with `max_tokens` as many pairs as fit that many tokens a side."""
    if max_tokens:
        generator = torch.Generator().manual_seed(seed)
        kept = data.kept
        sampler = TokenBatches(data.src.lengths[kept] + 1, data.tgt.lengths[kept] + 2,
                               max_tokens, generator)  # + EOS; + BOS and EOS
        return torch.utils.data.DataLoader(data, batch_sampler=sampler, collate_fn=pad_batch,
                                           generator=generator)
    if len(data) < batch_size:
        raise ConfigError(f"only {len(data)} training pairs are usable, fewer than batch_size={batch_size}")
    return torch.utils.data.DataLoader(data, batch_size=batch_size, shuffle=True, drop_last=True,
                                       collate_fn=pad_batch,
                                       generator=torch.Generator().manual_seed(seed))


# --- the corpus -----------------------------------------------------------------------------
@dataclass(frozen=True)
class ParallelCorpus:
    tokenizer: Tokenizer
    train: PairDataset
    test: PairDataset
    test_split: str  # "test", or "valid" when the folder has no test split
    test_references: list[str]  # the target side's text of `test`'s pairs, for sacrebleu

    def decode(self, ids: Sequence[int]) -> str:
        """Token ids (no special tokens) back to text."""
        return self.tokenizer.decode(list(ids)).strip()  # the prefix space of the first word

    def sacrebleu(self, hypotheses: Sequence[Sequence[int]]) -> float | None:
        """sacrebleu's corpus BLEU of the decoded hypotheses (token ids of `test`'s pairs, in
        order) against the raw references; None, with a warning, without sacrebleu installed."""
        try:
            import sacrebleu
        except ImportError:
            log.warning("sacrebleu is not installed: BLEU over BPE ids only")
            return None
        texts = [self.decode(h) for h in hypotheses]
        return sacrebleu.corpus_bleu(texts, [self.test_references]).score


def _fitting(src: Encoded, tgt: Encoded, max_positions: int, what: str) -> np.ndarray:
    """Indices of the pairs whose sides both have text and fit `max_positions` after BOS/EOS."""
    empty = (src.lengths == 0) | (tgt.lengths == 0)
    long = ~empty & ((src.lengths + 1 > max_positions) | (tgt.lengths + 2 > max_positions))
    kept = np.flatnonzero(~empty & ~long)
    log.info("%s: %d pairs kept, %d dropped as longer than max_positions=%d, %d with an empty "
             "side", what, len(kept), long.sum(), max_positions, empty.sum())
    if not len(kept):
        raise ConfigError(f"{what}: no pair has text on both sides and fits max_positions={max_positions}")
    return kept


@functools.lru_cache(maxsize=2)
def load_corpus(root: str, src_lang: str, tgt_lang: str, vocab_size: int, max_positions: int,
                n_test: int | None = None) -> ParallelCorpus:
    """Read `root`, train the shared BPE on its training text, encode both splits; keep the
    first `n_test` usable test pairs when given. Cached: every call with the same folder and
    settings (each variant's build_data, then evaluate) reuses one tokenizer."""
    paths = split_paths(Path(root).expanduser(), src_lang, tgt_lang)
    test_split = "test" if "test" in paths else "valid"
    log.info("parallel text %s: train.%s/%s; evaluation on %s.%s/%s", root, src_lang, tgt_lang,
             test_split, src_lang, tgt_lang)
    train_src, train_tgt = read_aligned(*paths["train"])
    test_src, test_tgt = read_aligned(*paths[test_split])
    tok = train_bpe(train_src + train_tgt, vocab_size)
    log.info("shared BPE vocabulary: %d tokens (vocab_size=%d)", tok.get_vocab_size(), vocab_size)
    train_ids = encode(tok, train_src), encode(tok, train_tgt)
    train = PairDataset(*train_ids, _fitting(*train_ids, max_positions, "train"))
    test_ids = encode(tok, test_src), encode(tok, test_tgt)
    kept = _fitting(*test_ids, max_positions, test_split)
    if n_test is not None and len(kept) > n_test:
        log.info("%s: evaluation on the first %d pairs (n_eval)", test_split, n_test)
        kept = kept[:n_test]
    return ParallelCorpus(tok, train, PairDataset(*test_ids, kept), test_split,
                          [test_tgt[i] for i in kept])


def corpus_for(cfg) -> ParallelCorpus:
    """`load_corpus` with a translation Config's fields: `data_root`, `src_lang`, `tgt_lang`,
    `vocab_size`, `max_positions`, and `n_eval` test pairs (cached: one tokenizer per run)."""
    return load_corpus(cfg.data_root, cfg.src_lang, cfg.tgt_lang, cfg.vocab_size,
                       cfg.max_positions, cfg.n_eval)
