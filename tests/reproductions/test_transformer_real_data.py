"""The Transformer on real parallel text (`data_root`): reading, the shared BPE, errors, a run.

A tiny generated English-German corpus in tmp_path stands in for WMT; nothing is downloaded.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import random
import shutil

import pytest

from reproductions import transformer as T
from reproductions.cli import main as repro_main
from reproductions.common import parallel_text as PT
from reproductions.common.config import ConfigError

WORDS = {  # English -> German-like, with non-ASCII letters so bytes and characters differ
    "the": "die", "cat": "Katze", "dog": "Hund", "child": "Kind", "book": "Buch", "bird": "Vogel",
    "tree": "Baum", "sees": "sieht", "likes": "mag", "finds": "findet", "reads": "liest",
    "big": "große", "small": "kleine", "green": "grüne", "old": "alte", "beautiful": "schöne",
}
NOUNS, VERBS, ADJECTIVES = ["cat", "dog", "child", "book", "bird", "tree"], \
    ["sees", "likes", "finds", "reads"], ["big", "small", "green", "old", "beautiful"]
VOCAB = 300  # >= 259: 256 bytes + PAD/BOS/EOS, plus merges the text can fill


def sentence_pair(rng: random.Random) -> tuple[str, str]:
    en = ["the", rng.choice(ADJECTIVES), rng.choice(NOUNS), rng.choice(VERBS), "the",
          rng.choice(NOUNS)]
    if rng.random() < 0.5:
        en[4:4] = [rng.choice(ADJECTIVES)]
    return " ".join(en) + " .", " ".join(WORDS[w] for w in en) + " ."


def write_corpus(root, n_train=200, n_test=40, split="test", seed=0):
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    for name, n in (("train", n_train), (split, n_test)):
        pairs = [sentence_pair(rng) for _ in range(n)]
        (root / f"{name}.en").write_text("".join(en + "\n" for en, _ in pairs), encoding="utf-8")
        (root / f"{name}.de").write_text("".join(de + "\n" for _, de in pairs), encoding="utf-8")
    return root


def real_cfg(root, **changes):
    return dataclasses.replace(T.PRESETS["tiny"], data_root=str(root), vocab_size=VOCAB, **changes)


def one_line_error(cfg) -> str:
    with pytest.raises(ConfigError) as err:
        T.build_data(cfg)
    assert "\n" not in str(err.value)
    return str(err.value)


# --- loader ---------------------------------------------------------------------------------
def test_loader_yields_padded_pairs_with_bos_eos_in_the_models_ids(tmp_path):
    assert (PT.PAD, PT.BOS, PT.EOS) == (T.PAD, T.BOS, T.EOS)
    cfg = real_cfg(write_corpus(tmp_path / "corpus"), batch_size=8)
    loader, (eval_src, eval_tgt) = T.build_data(cfg)
    src, tgt = next(iter(loader))
    assert src.shape[0] == tgt.shape[0] == 8 and src.dtype == tgt.dtype == T.torch.long
    assert (tgt[:, 0] == T.BOS).all() and not (src == T.BOS).any()
    for rows in (src, tgt, eval_src, eval_tgt):
        assert int(rows.max()) < cfg.vocab_size and int(rows.min()) >= 0
        for row in rows.tolist():
            end = row.index(T.EOS)  # one EOS, then only padding
            assert T.PAD not in row[:end] and set(row[end + 1 :]) <= {T.PAD}
    assert len(eval_src) == cfg.n_eval == 32  # the first n_eval of the 40 test pairs


def test_bpe_vocabulary_is_shared_honours_vocab_size_and_decodes_exactly(tmp_path):
    root = write_corpus(tmp_path / "corpus")
    corpus = PT.load_corpus(str(root), "en", "de", VOCAB, 32, None)
    assert corpus.tokenizer.get_vocab_size() == VOCAB
    assert [corpus.tokenizer.id_to_token(i) for i in range(3)] == list(PT.SPECIAL_TOKENS)
    test_de = (root / "test.de").read_text(encoding="utf-8").splitlines()
    assert corpus.test_references == test_de  # all 40 fit max_positions=32
    for (_, tgt), text in zip((corpus.test[i] for i in range(len(corpus.test))), test_de, strict=True):
        assert corpus.decode(tgt[1:-1].tolist()) == text  # byte-level BPE loses nothing
    english = corpus.tokenizer.encode("the cat").ids  # one vocabulary for both languages
    assert english and max(english) < VOCAB
    literal = corpus.tokenizer.encode("a <s> in </s> text <pad>").ids  # text, not specials
    assert min(literal) > T.EOS and corpus.decode(literal) == "a <s> in </s> text <pad>"


def test_too_small_a_vocabulary_is_a_one_line_error(tmp_path):
    cfg = dataclasses.replace(real_cfg(write_corpus(tmp_path / "corpus")), vocab_size=13)
    assert "vocab_size=13" in one_line_error(cfg)


def test_long_pairs_are_dropped_and_counted(tmp_path, caplog):
    root = write_corpus(tmp_path / "corpus")
    with (root / "train.en").open("a", encoding="utf-8") as f:
        f.write("the cat " * 40 + "\n")
    with (root / "train.de").open("a", encoding="utf-8") as f:
        f.write("die Katze " * 40 + "\n")
    with caplog.at_level(logging.INFO, logger="reproductions"):
        corpus = PT.load_corpus(str(root), "en", "de", VOCAB, 32, None)
    assert len(corpus.train) == 200
    assert "train: 200 pairs kept, 1 dropped as longer than max_positions=32" in caplog.text


def test_without_a_test_split_the_valid_split_is_used_and_logged(tmp_path, caplog):
    root = write_corpus(tmp_path / "corpus", split="valid")
    with caplog.at_level(logging.INFO, logger="reproductions"):
        corpus = PT.load_corpus(str(root), "en", "de", VOCAB, 32, 10)
    assert corpus.test_split == "valid" and len(corpus.test) == 10
    assert "evaluation on valid.en/de" in caplog.text


# --- errors ---------------------------------------------------------------------------------
def test_a_missing_folder_or_file_is_named_in_one_line(tmp_path):
    assert str(tmp_path / "nowhere") in one_line_error(real_cfg(tmp_path / "nowhere"))
    root = write_corpus(tmp_path / "corpus")
    (root / "test.de").unlink()
    assert str(root / "test.de") in one_line_error(real_cfg(root))
    (root / "train.en").unlink()
    assert str(root / "train.en") in one_line_error(real_cfg(root))


def test_language_extensions_come_from_the_config(tmp_path):
    root = write_corpus(tmp_path / "corpus")
    assert str(root / "train.fr") in one_line_error(real_cfg(root, tgt_lang="fr"))
    for split in ("train", "test"):
        shutil.copy(root / f"{split}.de", root / f"{split}.fr")
    loader, _ = T.build_data(real_cfg(root, tgt_lang="fr"))
    assert len(loader) > 0


def test_mismatched_line_counts_give_both_counts_in_one_line(tmp_path):
    root = write_corpus(tmp_path / "corpus")
    (root / "train.de").write_text("eine Zeile\n" * 199, encoding="utf-8")
    message = one_line_error(real_cfg(root))
    assert "200" in message and "199" in message and "train.de" in message


def test_an_empty_file_is_a_one_line_error(tmp_path):
    root = write_corpus(tmp_path / "corpus")
    (root / "test.en").write_text("", encoding="utf-8")
    assert f"{root / 'test.en'} is empty" in one_line_error(real_cfg(root))


# --- end to end -----------------------------------------------------------------------------
def test_tiny_run_on_real_text_reports_bleu_over_ids_and_sacrebleu(tmp_path):
    root = write_corpus(tmp_path / "corpus")
    out = tmp_path / "run"
    code = repro_main(["run", "transformer", "--preset", "tiny", "--set", f"data_root={root}",
                       "--set", f"vocab_size={VOCAB}", "--out", str(out), "--quiet",
                       "--threads", "1"])
    assert code == 0
    result = json.loads((out / "result.json").read_text())
    assert set(result["metrics"]) == {"main"}  # the no-PE ablation is the miniature's
    metrics = result["metrics"]["main"]
    assert set(metrics) == {"bleu", "sacrebleu"}
    assert all(0.0 <= v <= 100.0 for v in metrics.values())
    assert all(c["verdict"] == "not applicable" for c in result["claims"])
    log_text = (out / "log.txt").read_text()
    assert "shared BPE vocabulary: 300 tokens" in log_text and "evaluation on test" in log_text
    assert sorted(p.name for p in root.iterdir()) == ["test.de", "test.en", "train.de", "train.en"]


def _encoded(lengths):
    import numpy as np

    lengths = np.asarray(lengths, dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    return PT.Encoded(np.arange(int(lengths.sum()), dtype=np.int32) % 50 + 4, starts, lengths)


def test_token_batches_hold_at_most_max_tokens_a_side_and_every_pair_once_an_epoch():
    import numpy as np

    rng = np.random.default_rng(0)
    src, tgt = _encoded(rng.integers(1, 40, 500)), _encoded(rng.integers(1, 40, 500))
    data = PT.PairDataset(src, tgt, np.arange(500))
    loader = PT.batches(data, batch_size=8, seed=3, max_tokens=200)
    seen = []
    for s, t in loader:
        assert s.numel() <= 200 and t.numel() <= 200  # padded tokens, each side
        seen.append(len(s))
    assert sum(seen) == 500 and len(set(seen)) > 3  # many short pairs, or few long ones
    # little padding: sorted by length, a batch's pairs are of similar lengths
    pad = sum((t == PT.PAD).sum().item() for _, t in loader) / sum(t.numel() for _, t in loader)
    assert pad < 0.1
    # the order of batches is seeded, and another in the next epoch
    first = [s[0].tolist() for s, _ in PT.batches(data, 8, seed=3, max_tokens=200)]
    again = [s[0].tolist() for s, _ in PT.batches(data, 8, seed=3, max_tokens=200)]
    loader = PT.batches(data, 8, seed=3, max_tokens=200)
    e1, e2 = ([s[0].tolist() for s, _ in loader] for _ in range(2))  # two epochs of one loader
    assert first == again == e1 and e1 != e2
    with pytest.raises(ConfigError, match="smaller than the longest pair"):
        PT.batches(data, 8, seed=3, max_tokens=30)
