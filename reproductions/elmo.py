"""Deep contextualized word representations (ELMo; Peters et al., NAACL 2018).

https://arxiv.org/abs/1802.05365

A bidirectional language model (biLM, Sec. 3.1): a context-insensitive token representation
x_k (a character CNN), then L LSTM layers run forward (predicting t_{k+1}) and L run backward
(predicting t_{k-1}), the token layer and the softmax shared by both directions. ELMo is a
task-specific weighting of all biLM layers (Eq. 1): ELMo_k = gamma * sum_j s_j h_{k,j}, with
s = softmax of learned weights and h_{k,0} = [x_k; x_k], h_{k,j} = [forward_j; backward_j].

Presets:
- `paper`: the biLM of Sec. 3.4: 2,048 character n-gram filters (widths 1-7 with 32, 32, 64,
  128, 256, 512, 1,024 filters on 16-d embeddings of 262 characters, as AllenNLP's released
  options), two highway layers, a projection to 512; L = 2 layers of 4,096 LSTM cells with
  512-d projections and a residual connection from the first to the second layer, each
  direction. 93,666,400 parameters: AllenNLP's count for the same model is 93,600,864 ("93.6M"
  on its ELMo page; its LSTM has one bias vector, torch's two: 4 x 16,384 more here). The
  softmax over the 1B Word Benchmark's vocabulary serves pre-training only and is not counted.
- `mini`: a small biLM (32-d token layer and projections, 2 x 2 layers of 64 cells; 103,753
  parameters) pre-trained on 20,000 generated sentences in which the homonym "bank" takes the
  sense of its sentence's topic (river or money words around it, never next to it). On 400 held-out occurrences: Eq. 1's weighting plus a logistic regression
  (trained on 200, tested on 200) against the same probe on the token layer (a static vector:
  one per word type, like word2vec or GloVe) and the most frequent sense; the nearest
  sense-centroid classifier of Sec. 5.3 on each layer, of the trained and of an untrained biLM.
- `tiny`: a smoke test.

Data: generated here (no download, no licence).

Deviations from the paper:
- The miniature is small (32-d projections, 64 cells), trained 600 Adam steps on fixed-length
  generated sentences; no dropout, no cell or projection clipping (AllenNLP clips at 3).
- Word sense probing uses generated sentences with two planted senses, not SemCor / Senseval
  (Table 5); the probe with Eq. 1 is a logistic regression, not a task model.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from reproductions.common import data as D
from reproductions.common.claims import Claim
from reproductions.common.config import ConfigError

PAPER = "elmo"
PAD_CHAR, BOW, EOW = 0, 257, 258  # characters: byte + 1, 0 pads, begin / end of word
# the generated corpus's words (mini): function words, shared nouns, two topics, one homonym
FUNCTION = [f"f{i}" for i in range(10)]
NOUNS = [f"n{i}" for i in range(20)]
TOPICS = ([f"river{i}" for i in range(12)], [f"money{i}" for i in range(12)])
HOMONYM = "bank"
WORDS = ["<s>", "</s>", *FUNCTION, *NOUNS, *TOPICS[0], *TOPICS[1], HOMONYM]
INDEX = {w: i for i, w in enumerate(WORDS)}

# --- blocks --------------------------------------------------------------------------------


class Highway(nn.Module):
    """y = g x + (1 - g) relu(W_h x), g = sigmoid(W_g x) (Srivastava et al. 2015; Sec. 3.4)."""

    def __init__(self, dim: int):
        super().__init__()
        self.proj = nn.Linear(dim, 2 * dim)

    def forward(self, x):  # (N, D)
        h, g = self.proj(x).chunk(2, -1)
        g = torch.sigmoid(g)
        return g * x + (1 - g) * F.relu(h)


class CharCNN(nn.Module):
    """The context-insensitive token representation x_k (Sec. 3.4): character embeddings, one
    convolution per n-gram width max-pooled over the word, highway layers, a projection."""

    def __init__(self, cfg: Config):
        super().__init__()
        self.embed = nn.Embedding(cfg.chars, cfg.char_dim, padding_idx=PAD_CHAR)
        self.convs = nn.ModuleList(nn.Conv1d(cfg.char_dim, n, w) for w, n in cfg.filters)
        width = sum(n for _, n in cfg.filters)
        self.highways = nn.Sequential(*[Highway(width) for _ in range(cfg.highway)])
        self.proj = nn.Linear(width, cfg.proj)

    def forward(self, chars):  # (B, T, C) character ids
        B, T, C = chars.shape
        e = self.embed(chars.view(B * T, C)).transpose(1, 2)  # (B T, E, C)
        h = torch.cat([F.relu(conv(e)).amax(-1) for conv in self.convs], -1)  # (B T, filters)
        return self.proj(self.highways(h)).view(B, T, -1)  # (B, T, P)


class ScalarMix(nn.Module):
    """Eq. 1: ELMo_k = gamma * sum_j softmax(s)_j h_{k,j} over the L + 1 layers."""

    def __init__(self, layers: int):
        super().__init__()
        self.s = nn.Parameter(torch.zeros(layers))
        self.gamma = nn.Parameter(torch.ones(()))

    def forward(self, layers):  # (L+1, N, D)
        return self.gamma * (F.softmax(self.s, 0)[:, None, None] * layers).sum(0)  # (N, D)


# --- config --------------------------------------------------------------------------------


@dataclass
class Config:
    seed: int = 0
    steps: int = 0  # Sec. 3.4: 10 epochs on the 1B Word Benchmark (not a CPU job)
    batch_size: int = 32
    lr: float = 3e-3  # Adam (miniature); the paper does not give its pre-training optimiser
    data_root: str | None = None  # unused: the miniature's corpus is generated
    chars: int = 262  # 256 bytes + padding and word / sentence markers (AllenNLP's 262)
    char_dim: int = 16  # Sec. 3.4's char-CNN (AllenNLP options: 16-d character embeddings)
    filters: tuple[tuple[int, int], ...] = (
        (1, 32), (2, 32), (3, 64), (4, 128), (5, 256), (6, 512), (7, 1024))  # 2,048 filters
    highway: int = 2  # Sec. 3.4: two highway layers
    proj: int = 512  # Sec. 3.4: projection down to 512; the LSTMs' projections too
    cells: int = 4096  # Sec. 3.4: 4,096 LSTM units per layer
    layers: int = 2  # Sec. 3.4: L = 2 biLSTM layers
    residual: bool = True  # Sec. 3.4: a residual connection from the first to the second layer
    vocab: int = 0  # the softmax's words (0: none, the released biLM)
    max_chars: int = 50  # characters per token, markers included
    # mini: the generated corpus
    sentences: int = 20_000
    length: int = 14  # tokens per sentence, <s> and </s> included
    probe_train: int = 200  # labelled homonym occurrences for the probes
    probe_test: int = 200
    probe_steps: int = 300  # Adam steps of each probe (Eq. 1's weights and the classifier)
    lm_test: int = 500  # held-out sentences for the LM loss
    sense_prior: float = 0.6  # share of the first sense (river) among homonym occurrences
    compare_untrained: bool = False  # also evaluate the same biLM without pre-training


# --- model ---------------------------------------------------------------------------------


class BiLM(nn.Module):
    """Sec. 3.1: the char-CNN token layer, L forward and L backward LSTM layers (projected,
    residual above the first), one softmax tied across the directions."""

    def __init__(self, cfg: Config):
        super().__init__()
        self.tokens = CharCNN(cfg)

        def stack():
            return nn.ModuleList(nn.LSTM(cfg.proj, cfg.cells, proj_size=cfg.proj,
                                         batch_first=True) for _ in range(cfg.layers))

        self.forward_lstms, self.backward_lstms = stack(), stack()
        self.residual = cfg.residual
        self.softmax = nn.Linear(cfg.proj, cfg.vocab) if cfg.vocab else None

    def run(self, lstms, x):  # (B, T, P) -> [(B, T, P)] per layer
        outs = []
        for j, lstm in enumerate(lstms):
            h = lstm(x)[0]
            x = h + x if self.residual and j > 0 else h
            outs.append(x)
        return outs

    def forward(self, chars):  # (B, T, C) -> (L+1, B, T, 2P): the h_{k,j} of Eq. 1
        x = self.tokens(chars)  # (B, T, P)
        fwd = self.run(self.forward_lstms, x)
        bwd = [h.flip(1) for h in self.run(self.backward_lstms, x.flip(1))]
        return torch.stack([torch.cat([x, x], -1)] +
                           [torch.cat([f, b], -1) for f, b in zip(fwd, bwd, strict=True)])


def build_model(cfg: Config) -> BiLM:
    return BiLM(cfg)


# --- presets -------------------------------------------------------------------------------

_MINI_NET = dict(char_dim=8, filters=((1, 16), (2, 16), (3, 32), (4, 32)), highway=1, proj=32,
                 cells=64, max_chars=8, vocab=len(WORDS))
PRESETS = {
    "paper": Config(),  # Sec. 3.4: 93,666,400 (AllenNLP: 93,600,864, one LSTM bias)
    "mini": Config(**_MINI_NET, steps=600, compare_untrained=True),
    "tiny": Config(**_MINI_NET, steps=3, batch_size=8, sentences=64, probe_train=20,
                   probe_test=20, probe_steps=20, lm_test=32),
}


def variants(cfg: Config) -> dict[str, Config]:
    """`elmo` (pre-trained) and `untrained` (the same biLM, steps = 0); else `main`."""
    base = dataclasses.replace(cfg, compare_untrained=False)
    if not cfg.compare_untrained:
        return {"main": base}
    return {"elmo": base, "untrained": dataclasses.replace(base, steps=0)}


# --- data ----------------------------------------------------------------------------------



def spell(word: str, max_chars: int) -> list[int]:
    """Character ids of a word: begin marker, bytes + 1, end marker, padding (cut to fit)."""
    ids = [BOW, *(b + 1 for b in word.encode()[: max_chars - 2]), EOW]
    return ids + [PAD_CHAR] * (max_chars - len(ids))


def sentence(rng: np.random.Generator, topic: int, length: int, homonym: bool) -> tuple[list[str], int]:
    """A sentence about one topic: topic words (30%, at least two), function words (40%),
    shared nouns; with `homonym`, "bank" between two function words (its sense shows only
    further away).
    Returns the words and the homonym's position (-1 if none)."""
    fp = 1 / np.arange(1, len(FUNCTION) + 1)
    words = []
    for _ in range(length - 2):
        u = rng.random()
        if u < 0.3:
            words.append(TOPICS[topic][rng.integers(len(TOPICS[topic]))])
        elif u < 0.7:
            words.append(FUNCTION[rng.choice(len(FUNCTION), p=fp / fp.sum())])
        else:
            words.append(NOUNS[rng.integers(len(NOUNS))])
    pos = -1
    if homonym:
        pos = int(rng.integers(2, length - 4))
        words[pos - 1:pos + 2] = [FUNCTION[rng.integers(3)], HOMONYM, FUNCTION[rng.integers(3)]]
    free = [i for i in range(len(words)) if abs(i - pos) > 1 and words[i] not in TOPICS[topic]]
    for i in rng.permutation(free)[:max(0, 2 - sum(w in TOPICS[topic] for w in words))]:
        words[i] = TOPICS[topic][rng.integers(len(TOPICS[topic]))]  # at least two topic words
    return ["<s>", *words, "</s>"], pos + 1 if homonym else -1  # + 1: after <s>


def corpus(cfg: Config, n: int, seed: int, homonym_rate: float, prior: float = 0.5):
    """(word ids (n, T), char ids (n, T, C), senses (n,), homonym positions (n,))."""
    rng = np.random.default_rng(seed)
    ids, senses, positions = [], [], []
    for _ in range(n):
        topic = int(rng.random() >= prior)  # 0: river, 1: money
        words, pos = sentence(rng, topic, cfg.length, rng.random() < homonym_rate)
        ids.append([INDEX[w] for w in words])
        senses.append(topic)
        positions.append(pos)
    table = torch.tensor([spell(w, cfg.max_chars) for w in WORDS])  # (V, C)
    ids = torch.tensor(ids)
    return ids, table[ids], torch.tensor(senses), torch.tensor(positions)


def build_data(cfg: Config):
    """Pre-training sentences (a third with the homonym) and the probe's held-out homonym
    sentences, `sense_prior` of them about rivers."""
    if cfg.vocab != len(WORDS):
        raise ConfigError(f"the generated corpus needs vocab={len(WORDS)} (the paper preset is "
                          "pre-trained on the 1B Word Benchmark, not shipped)")
    ids, chars, _, _ = corpus(cfg, cfg.sentences, 1000 + cfg.seed, homonym_rate=1 / 3)
    n = cfg.probe_train + cfg.probe_test
    p_ids, p_chars, senses, pos = corpus(cfg, n, 2000 + cfg.seed, 1.0, cfg.sense_prior)
    return D.tensor_loader(chars, ids, cfg.batch_size, cfg.seed), \
        {"probe": (p_chars, senses, pos), "lm_test": corpus(cfg, cfg.lm_test, 999, 1 / 3)[:2]}


def baselines(cfg: Config) -> dict[str, dict[str, float]]:
    """The most frequent training sense, scored on the probe's test occurrences (WordNet's
    first-sense baseline of Table 5, in miniature)."""
    _, senses, _ = build_data(cfg)[1]["probe"]
    train, test = senses[:cfg.probe_train], senses[cfg.probe_train:]
    top = int(torch.bincount(train, minlength=2).argmax())
    return {"most frequent sense": {"probe_accuracy": float((test == top).float().mean())}}


# --- training ------------------------------------------------------------------------------


def lm_loss(model: BiLM, chars, ids):
    """Sec. 3.1: the forward and backward log likelihoods, one tied softmax."""
    h = model(chars)  # (L+1, B, T, 2P)
    P = h.shape[-1] // 2
    fwd, bwd = h[-1, :, :, :P], h[-1, :, :, P:]  # (B, T, P) each
    logits_f = model.softmax(fwd[:, :-1])  # predicts t_{k+1}: (B, T-1, V)
    logits_b = model.softmax(bwd[:, 1:])  # predicts t_{k-1}
    return (F.cross_entropy(logits_f.flatten(0, 1), ids[:, 1:].flatten())
            + F.cross_entropy(logits_b.flatten(0, 1), ids[:, :-1].flatten())) / 2


def training_step(model: BiLM, batch) -> dict:
    chars, ids = batch  # (B, T, C), (B, T)
    return {"loss": lm_loss(model, chars, ids)}


def centroid_accuracy(train_x, train_y, test_x, test_y) -> float:
    """Sec. 5.3's word sense disambiguation: the mean representation of each sense over the
    training occurrences, the nearest (cosine) sense for each test occurrence; a tie (a static
    vector: all occurrences alike) goes to the most frequent training sense."""
    train_x, test_x = F.normalize(train_x, dim=-1), F.normalize(test_x, dim=-1)
    top = int(torch.bincount(train_y, minlength=2).argmax())
    cents = torch.stack([train_x[train_y == s].mean(0) for s in (0, 1)])  # (2, D)
    sim = test_x @ cents.T  # (N, 2)
    pred = torch.where((sim[:, 0] - sim[:, 1]).abs() < 1e-6, top, sim.argmax(1))
    return float((pred == test_y).float().mean())


def mixed_probe(layers, train_y, test_y, seed: int, steps: int = 300) -> tuple[float, list]:
    """Eq. 1's weights s_j and gamma learned with a logistic regression on the labelled
    occurrences (Sec. 3.3: the biLM frozen, the weighting task-specific). (test accuracy,
    softmax(s))."""
    n = len(train_y)
    scale = layers[:, :n].flatten(0, 1).std(0).clamp_min(1e-6)  # standardise each feature
    layers = layers / scale
    torch.manual_seed(seed)
    mix, clf = ScalarMix(len(layers)), nn.Linear(layers.shape[-1], 2)
    opt = torch.optim.Adam([*mix.parameters(), *clf.parameters()], lr=0.05)
    with torch.enable_grad():
        for _ in range(steps):
            opt.zero_grad()
            loss = F.cross_entropy(clf(mix(layers[:, :n])), train_y) + 1e-3 * clf.weight.pow(2).sum()
            loss.backward()
            opt.step()
    with torch.no_grad():
        acc = float((clf(mix(layers[:, n:])).argmax(1) == test_y).float().mean())
    return acc, F.softmax(mix.s.detach(), 0).tolist()


def evaluate(model: BiLM, eval_data, cfg: Config) -> dict[str, float]:
    """Held-out LM loss; on the homonym's occurrences: Eq. 1 probe, the same probe on the token
    layer (static) and on the top layer alone, the sense-centroid accuracy of each layer."""
    ids, chars = eval_data["lm_test"]
    p_chars, senses, pos = eval_data["probe"]
    n = cfg.probe_train
    h = model(p_chars)[:, torch.arange(len(pos)), pos]  # (L+1, N, 2P): the homonym's vectors
    out = {"lm_test_loss": float(lm_loss(model, chars, ids))}
    ytr, yte = senses[:n], senses[n:]
    for j in range(len(h)):
        out[f"centroid_accuracy_layer{j}"] = centroid_accuracy(h[j, :n], ytr, h[j, n:], yte)
    out["probe_accuracy"], weights = mixed_probe(h, ytr, yte, cfg.seed, cfg.probe_steps)
    out |= {f"mix_weight_layer{j}": w for j, w in enumerate(weights)}
    out["probe_accuracy_static"] = mixed_probe(h[:1], ytr, yte, cfg.seed, cfg.probe_steps)[0]
    out["probe_accuracy_top"] = mixed_probe(h[-1:], ytr, yte, cfg.seed, cfg.probe_steps)[0]
    return out


# --- claims --------------------------------------------------------------------------------


def _m(m, v, k):
    return m[v][k]


CLAIMS = [
    Claim(
        id="contextual-senses",
        text="Eq. 1's weighting of the pre-trained biLM's layers with a logistic regression "
        "tells the homonym's two senses apart at least 0.25 better than the same probe on the "
        "token layer (a static vector: one per word, whatever the context) and than the most "
        "frequent sense (0.56-0.65 over seeds: the probe sentences are drawn with 60% river).",
        paper="the biLM's representations disambiguate word senses from context, where a "
        "static vector (GloVe) gives one vector per word ('play' in Table 4)",
        source="Sec. 5.3, Table 4",
        margins=lambda m: {
            "static": _m(m, "elmo", "probe_accuracy") - _m(m, "elmo", "probe_accuracy_static")
            - 0.25,
            "most frequent sense": _m(m, "elmo", "probe_accuracy")
            - _m(m, "most frequent sense", "probe_accuracy") - 0.25},
        measured=lambda m: f"probe accuracy: ELMo {_m(m, 'elmo', 'probe_accuracy'):.3f}, token "
        f"layer {_m(m, 'elmo', 'probe_accuracy_static'):.3f}, most frequent sense "
        f"{_m(m, 'most frequent sense', 'probe_accuracy'):.3f}",
    ),
    Claim(
        id="pretraining",
        text="Pre-training makes the difference: the nearest sense centroid (Sec. 5.3's "
        "classifier) on the top biLM layer is at least 0.1 more accurate after pre-training "
        "than on the same, untrained biLM.",
        paper="word sense disambiguation with the biLM's top layer is competitive with "
        "state-of-the-art WSD systems",
        source="Table 5",
        margins=lambda m: {"untrained": _m(m, "elmo", "centroid_accuracy_layer2")
                           - _m(m, "untrained", "centroid_accuracy_layer2") - 0.1},
        measured=lambda m: "top-layer centroid accuracy: pre-trained "
        f"{_m(m, 'elmo', 'centroid_accuracy_layer2'):.3f}, untrained "
        f"{_m(m, 'untrained', 'centroid_accuracy_layer2'):.3f}",
    ),
    Claim(
        id="top-layer-wsd",
        text="Not reproduced in miniature: for word sense, the top layer's centroid classifier "
        "beats the first layer's by at least 0.02. With the residual connection (Sec. 3.4) the "
        "top layer is the first plus a correction, and on this corpus both carry the sentence's "
        "topic equally well (seed 0: 0.915 each).",
        paper="WSD F1: the second layer of the biLM does better than the first (69.0 vs 67.4)",
        source="Table 5",
        margins=lambda m: {"layer 1": _m(m, "elmo", "centroid_accuracy_layer2")
                           - _m(m, "elmo", "centroid_accuracy_layer1") - 0.02},
        measured=lambda m: "centroid accuracy: layer 1 "
        f"{_m(m, 'elmo', 'centroid_accuracy_layer1'):.3f}, layer 2 "
        f"{_m(m, 'elmo', 'centroid_accuracy_layer2'):.3f}",
        expected=False,
    ),
    Claim(
        id="all-layers",
        text="Not reproduced in miniature: weighting all layers (Eq. 1) beats the top layer "
        "alone by at least 0.02. Both probes reach the ceiling here (seed 0: 1.000 each); the "
        "learned weights put most of the mass on the top layer.",
        paper="using all layers instead of just the last improves performance (SQuAD, SNLI, "
        "SRL)",
        source="Table 2",
        margins=lambda m: {"top layer": _m(m, "elmo", "probe_accuracy")
                           - _m(m, "elmo", "probe_accuracy_top") - 0.02},
        measured=lambda m: f"probe accuracy: all layers {_m(m, 'elmo', 'probe_accuracy'):.3f}, "
        f"top layer {_m(m, 'elmo', 'probe_accuracy_top'):.3f}; softmax(s) = "
        f"{_m(m, 'elmo', 'mix_weight_layer0'):.2f}, {_m(m, 'elmo', 'mix_weight_layer1'):.2f}, "
        f"{_m(m, 'elmo', 'mix_weight_layer2'):.2f}",
        expected=False,
    ),
    Claim(
        id="squad",
        text="Adding ELMo to a strong baseline improves SQuAD and five other benchmarks.",
        paper="SQuAD F1 81.1 -> 85.8 (relative error reduction 24.9%), and gains on SNLI, SRL, "
        "coreference, NER, SST-5",
        source="Table 1",
        needs="preset paper pre-trained on the 1B Word Benchmark (10 epochs, GPUs) and the "
        "task models of Sec. 4",
    ),
]
