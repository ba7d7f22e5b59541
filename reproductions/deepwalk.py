"""DeepWalk: Online Learning of Social Representations (Perozzi, Al-Rfou & Skiena, 2014), with
node2vec: Scalable Feature Learning for Networks (Grover & Leskovec, 2016) as its second paper.

https://arxiv.org/abs/1403.6652 (DeepWalk), https://arxiv.org/abs/1607.00653 (node2vec)

DeepWalk treats truncated random walks as sentences and learns a vector Phi(v) per node with
skip-gram: each node of a walk predicts the nodes within w steps of it (Algorithm 1, 2).
node2vec biases the walk with a return parameter p and an in-out parameter q: after stepping
t -> v the walk moves to x with weight 1/p if x = t, 1 if x neighbours t, 1/q otherwise
(Sec. 3.2.2): small q explores outward (DFS-like, communities), large q stays near t (BFS-like,
structural roles).

Presets (which paper each serves):
- `paper` (deepwalk): BlogCatalog's 10,312 nodes, d = 128, gamma = 80 walks per node of length
  t = 40, window w = 10 (Sec. 6): 2,639,872 parameters (Phi and the output vectors).
- `mini` (deepwalk): a sparse generated stochastic block model (6 communities x 60 nodes):
  DeepWalk's embedding against the spectral embedding (Laplacian eigenvectors) and a random
  embedding, all read out the same way: k-means NMI with the communities, and logistic
  regression trained on 3 labelled nodes per community.
- `mini-node2vec` (node2vec): a graph of communities of hubs and leaves (every node has a
  community and a role); node2vec with q = 0.5 and with q = 2 (p = 1, Fig. 3), trained in one
  run, each embedding's NMI with the communities and with the roles.
- `tiny`: a smoke test.

Data: generated with numpy (reproductions.common.graphs), no download, no licence needed.

Deviations from the papers:
- Skip-gram with negative sampling (5 negatives, the unigram^0.75 distribution) instead of
  DeepWalk's hierarchical softmax (Sec. 4.2.2); node2vec uses negative sampling too (Sec. 3.1).
- Adam on batches of (node, context) pairs sampled from the walks instead of SGD over the walks
  in order; the walks are generated once, before training.
- Evaluation: single-label communities and NMI / few-label accuracy, where the papers use
  multi-label Micro/Macro-F1 with 10-90% of the nodes labelled.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from reproductions.common import graphs as G
from reproductions.common.claims import Claim
from reproductions.common.config import ConfigError

PAPER = "deepwalk"

# --- walks -----------------------------------------------------------------------------------


def random_walks(adj: torch.Tensor, walks_per_node: int, length: int, p: float, q: float,
                 seed: int) -> np.ndarray:
    """(gamma N, t) node ids: `walks_per_node` walks from every node (Algorithm 1, lines 3-9),
    second-order biased by p, q (node2vec Sec. 3.2.2; p = q = 1 is DeepWalk's uniform walk).
    All walks step together: each step samples one neighbour per walk."""
    rng = np.random.default_rng(seed)
    a = adj.numpy() > 0
    n = len(a)
    deg = a.sum(1)
    nbrs = np.zeros((n, max(1, deg.max())), dtype=np.int64)
    for i in range(n):
        ids = np.flatnonzero(a[i])
        nbrs[i, :len(ids)] = ids
    walks = np.empty((n * walks_per_node, length), dtype=np.int64)
    for r in range(walks_per_node):  # Algorithm 1, line 3: shuffle the nodes each pass
        walks[r * n:(r + 1) * n, 0] = rng.permutation(n)
    valid = np.arange(nbrs.shape[1])[None, :] < deg[:, None]  # (N, maxdeg)
    for s in range(1, length):
        v = walks[:, s - 1]
        cand = nbrs[v]  # (W, maxdeg)
        w = valid[v].astype(np.float64)
        if s > 1 and (p != 1 or q != 1):  # alpha_pq(t, x) (Sec. 3.2.2)
            t = walks[:, s - 2]
            w *= np.where(cand == t[:, None], 1 / p, np.where(a[t[:, None], cand], 1.0, 1 / q))
        cum = w.cumsum(1)
        pick = (cum < rng.random(len(v))[:, None] * cum[:, -1:]).sum(1)
        walks[:, s] = np.where(deg[v] > 0, cand[np.arange(len(v)), pick.clip(max=nbrs.shape[1] - 1)], v)
    return walks


class PairBatches:
    """Endless batches of (centre, context, negatives): a random walk position, a node within
    `window` steps of it (word2vec's dynamic window), and `negatives` nodes drawn from the
    walks' node frequencies to the 3/4 (Mikolov et al.)."""

    def __init__(self, walks: np.ndarray, n: int, window: int, negatives: int, batch_size: int,
                 seed: int):
        self.walks = torch.from_numpy(walks)
        self.window, self.negatives, self.batch_size, self.seed = window, negatives, batch_size, seed
        self.noise = torch.bincount(self.walks.flatten(), minlength=n).double() ** 0.75

    def __iter__(self):
        g = torch.Generator().manual_seed(self.seed)
        w, t = self.walks.shape
        while True:
            row = torch.randint(w, (self.batch_size,), generator=g)
            col = torch.randint(t, (self.batch_size,), generator=g)
            off = torch.randint(1, self.window + 1, (self.batch_size,), generator=g)
            off = off * (torch.randint(2, (self.batch_size,), generator=g) * 2 - 1)
            ctx = (col + off).clamp(0, t - 1)
            ctx = torch.where(ctx == col, (col - off).clamp(0, t - 1), ctx)
            neg = torch.multinomial(self.noise, self.batch_size * self.negatives, True, generator=g)
            yield self.walks[row, col], self.walks[row, ctx], neg.view(self.batch_size, -1)


# --- config ----------------------------------------------------------------------------------


@dataclass
class Config:
    seed: int = 0
    steps: int = 20_000  # Adam steps over batches of pairs (the paper: one SGD pass, Alg. 1)
    batch_size: int = 1024  # (node, context) pairs per step
    lr: float = 0.01  # Adam (the paper: SGD, alpha = 2.5% linearly decayed, Sec. 4.2.3)
    data_root: str | None = None  # unused: the graphs are generated
    dataset: Literal["blogcatalog", "sbm", "roles"] = "blogcatalog"
    nodes: int = 10_312  # BlogCatalog (Table 1); sbm / roles: set by the generator
    dim: int = 128  # d (Sec. 6)
    walks_per_node: int = 80  # gamma (Sec. 6)
    walk_length: int = 40  # t (Sec. 6)
    window: int = 10  # w (Sec. 6)
    negatives: int = 5  # negative samples per pair (deviation: no hierarchical softmax)
    p: float = 1.0  # node2vec return parameter (1: DeepWalk)
    q: float = 1.0  # node2vec in-out parameter (1: DeepWalk)
    compare_q: tuple[float, ...] = ()  # node2vec: one embedding per q, trained in one run
    communities: int = 6  # sbm / roles: planted communities
    community_size: int = 60  # sbm: nodes per community
    p_in: float = 0.08  # sbm: edge probability inside a community
    p_out: float = 0.006  # sbm: between communities
    hubs: int = 4  # roles: hubs per community
    leaves_per_hub: int = 6  # roles: leaves per hub
    p_noise: float = 0.005  # roles: probability of a random edge between any two nodes
    labels_per_class: int = 3  # few-label logistic regression read-out


# --- model -----------------------------------------------------------------------------------


class SkipGram(nn.Module):
    """Phi (the node representations) and the output vectors; the loss of skip-gram with
    negative sampling: -log s(Phi(v) . c(u)) - sum_n log s(-Phi(v) . c(n)) (Algorithm 2)."""

    def __init__(self, cfg: Config):
        super().__init__()
        self.phi = nn.Embedding(cfg.nodes, cfg.dim)  # Phi in R^{|V| x d} (Sec. 4)
        self.out = nn.Embedding(cfg.nodes, cfg.dim)
        nn.init.uniform_(self.phi.weight, -0.5 / cfg.dim, 0.5 / cfg.dim)
        nn.init.zeros_(self.out.weight)

    def forward(self, centre, context, negatives):  # (B,), (B,), (B, k)
        v = self.phi(centre)  # (B, d)
        pos = (v * self.out(context)).sum(-1)  # (B,)
        neg = torch.einsum("bd,bkd->bk", v, self.out(negatives))  # (B, k)
        return -(F.logsigmoid(pos) + F.logsigmoid(-neg).sum(-1)).mean()


def build_model(cfg: Config) -> nn.Module:
    return SkipGram(cfg)


# --- presets ---------------------------------------------------------------------------------

PRESETS = {
    "paper": Config(),  # 2 x 10,312 x 128 = 2,639,872
    "mini": Config(dataset="sbm", nodes=360, dim=32, walks_per_node=10, walk_length=40, window=5,
                   steps=3000, batch_size=512),  # 23,040
    "mini-node2vec": Config(dataset="roles", nodes=168, dim=16, walks_per_node=10,
                            walk_length=40, window=5, steps=1500, batch_size=512,
                            compare_q=(0.5, 2.0)),  # 5,376 each
    "tiny": Config(dataset="sbm", communities=2, community_size=10, p_in=0.5, nodes=20, dim=8,
                   walks_per_node=2, walk_length=8, window=2, steps=3, batch_size=16),
}


def variants(cfg: Config) -> dict[str, Config]:
    """node2vec: `q=<value>` per value of `compare_q`; else `main`."""
    base = dataclasses.replace(cfg, compare_q=())
    return {f"q={q:g}": dataclasses.replace(base, q=q) for q in cfg.compare_q} or {"main": base}


# --- data ------------------------------------------------------------------------------------


def graph(cfg: Config):
    """`(adj, communities, roles or None)` of the generated graph."""
    if cfg.dataset == "sbm":
        _, y, adj = G.attributed_sbm(cfg.community_size, cfg.communities, cfg.p_in, cfg.p_out,
                                     1, 0.0, seed=cfg.seed)
        found = (adj, y, None)
    elif cfg.dataset == "roles":
        y, role, adj = G.communities_and_roles(cfg.communities, cfg.hubs, cfg.leaves_per_hub,
                                               0.9, 0.1, seed=cfg.seed, p_noise=cfg.p_noise)
        found = (adj, y, role)
    else:
        raise ConfigError("BlogCatalog is not shipped; the paper preset records the sizes only")
    if len(found[0]) != cfg.nodes:
        raise ConfigError(f"the graph has {len(found[0])} nodes; set nodes={len(found[0])}")
    return found


def build_data(cfg: Config):
    adj, y, role = graph(cfg)
    walks = random_walks(adj, cfg.walks_per_node, cfg.walk_length, cfg.p, cfg.q, cfg.seed)
    batches = PairBatches(walks, cfg.nodes, cfg.window, cfg.negatives, cfg.batch_size, cfg.seed)
    return batches, {"communities": y, "roles": role}


def readout(emb: torch.Tensor, truth: dict, cfg: Config) -> dict[str, float]:
    """The same read-out for every embedding: k-means NMI with the communities (and the roles,
    where planted), logistic regression on a few labels per community (Sec. 5)."""
    y = truth["communities"]
    out = {"community_nmi": G.kmeans_nmi(emb, y, cfg.communities, cfg.seed),
           "few_label_accuracy": G.few_label_accuracy(emb, y, cfg.labels_per_class, cfg.seed)}
    if truth.get("roles") is not None:
        out["role_nmi"] = G.kmeans_nmi(emb, truth["roles"], 2, cfg.seed)
        out["role_accuracy"] = G.few_label_accuracy(emb, truth["roles"], cfg.labels_per_class,
                                                    cfg.seed)
    return out


def baselines(cfg: Config) -> dict[str, dict[str, float]]:
    """The spectral embedding (the `dim` smallest non-trivial Laplacian eigenvectors, as
    spectral clustering uses, Sec. 6.1) and a random embedding, read out the same way."""
    from threadpoolctl import threadpool_limits

    adj, y, role = graph(cfg)
    truth = {"communities": y, "roles": role}
    k = min(cfg.dim, cfg.nodes - 2)  # d eigenvectors, as the paper's SpectralClustering (Sec. 6.1)
    rand = torch.randn(cfg.nodes, cfg.dim, generator=torch.Generator().manual_seed(cfg.seed))
    with threadpool_limits(torch.get_num_threads()):
        return {"spectral": readout(G.laplacian_eigenvectors(adj, k), truth, cfg),
                "random embedding": readout(rand, truth, cfg)}


# --- training --------------------------------------------------------------------------------


def training_step(model: nn.Module, batch) -> dict:
    return {"loss": model(*batch)}


def evaluate(model: nn.Module, eval_data, cfg: Config) -> dict[str, float]:
    from threadpoolctl import threadpool_limits

    with threadpool_limits(torch.get_num_threads()):
        return readout(model.phi.weight.detach(), eval_data, cfg)


# --- claims ----------------------------------------------------------------------------------

def _m(m, v, metric):
    return m[v][metric]


def _over(m, method, others, metric, threshold):
    return {o: _m(m, method, metric) - _m(m, o, metric) - threshold for o in others}


def _list(m, names, metric):
    return ", ".join(f"{n} {_m(m, n, metric):.3f}" for n in names)


_BASE = ("spectral", "random embedding")

CLAIMS = [
    Claim(
        id="few-labels",
        text="Logistic regression on DeepWalk's embedding, trained on 3 labelled nodes per "
        "community, beats the same read-out of the spectral embedding of the same dimension "
        "(the paper's SpectralClustering baseline: the d smallest Laplacian eigenvectors) and "
        "of a random embedding by at least 0.05 accuracy. (With only as many eigenvectors as "
        "communities, spectral clustering does as well on this SBM.)",
        paper="BlogCatalog, 10% labelled: DeepWalk 36.00 Micro-F1 vs SpectralClustering 31.06; "
        "DeepWalk's lead is largest when labels are sparse",
        source="Table 2, Sec. 6.1",
        margins=lambda m: _over(m, "main", _BASE, "few_label_accuracy", 0.05),
        measured=lambda m: _list(m, ("main",) + _BASE, "few_label_accuracy"),
    ),
    Claim(
        id="communities",
        text="k-means on DeepWalk's embedding recovers the planted communities better than on "
        "the spectral or a random embedding of the same dimension: NMI higher by at least 0.10.",
        paper="the representations encode community membership (Fig. 1: Karate club)",
        source="Fig. 1, Sec. 3",
        margins=lambda m: _over(m, "main", _BASE, "community_nmi", 0.10),
        measured=lambda m: _list(m, ("main",) + _BASE, "community_nmi"),
    ),
    Claim(
        id="blogcatalog",
        text="On BlogCatalog DeepWalk beats spectral clustering, modularity, wvRN and the "
        "majority baseline in Micro-F1 at every labelled fraction.",
        paper="DeepWalk 36.00 (10% labelled) to 42.38 (90%) Micro-F1",
        source="Table 2",
        needs="preset paper on the BlogCatalog graph (10,312 nodes, 39 labels; not shipped) "
        "with a multi-label one-vs-rest logistic regression read-out",
    ),
    Claim(
        id="node2vec-communities",
        text="Both node2vec embeddings (q = 0.5 and q = 2) recover the planted communities far "
        "better than a random embedding: k-means NMI higher by at least 0.10.",
        paper="node2vec clusters Les Miserables' characters into communities (homophily)",
        source="Fig. 3 (node2vec)",
        margins=lambda m: {v: _m(m, v, "community_nmi") - _m(m, "random embedding",
                                                            "community_nmi") - 0.10
                           for v in ("q=0.5", "q=2")},
        measured=lambda m: _list(m, ("q=0.5", "q=2", "spectral", "random embedding"),
                                 "community_nmi"),
        presets=("mini-node2vec",),
    ),
    Claim(
        id="q-homophily",
        text="Not expected in miniature: the outward-exploring walk (q = 0.5) gives a more "
        "community-like embedding than the inward walk (q = 2): NMI higher by at least 0.02. "
        "On this small graph with random noise edges the far-wandering walks also cross the "
        "noise edges, and q = 2 tended to do as well or better when the miniature was built.",
        paper="p = 1, q = 0.5: clusters by community; p = 1, q = 2: by structural role",
        source="Fig. 3 (node2vec), Sec. 3.2.2",
        margins=lambda m: {"q=2": _m(m, "q=0.5", "community_nmi") - _m(m, "q=2", "community_nmi")
                           - 0.02},
        measured=lambda m: _list(m, ("q=0.5", "q=2"), "community_nmi"),
        expected=False,
        presets=("mini-node2vec",),
    ),
    Claim(
        id="q-structural",
        text="Not expected in miniature: the BFS-like walk (q = 2) makes hubs and leaves "
        "linearly separable from 3 labels each better than q = 0.5, by at least 0.05 accuracy. "
        "Skip-gram over walks sees who is near whom; hubs of different communities are never "
        "near each other, so neither setting recovered roles when the miniature was built.",
        paper="with q = 2 nodes of the same structural role share colours across the graph",
        source="Fig. 3 (node2vec, bottom)",
        margins=lambda m: {"q=0.5": _m(m, "q=2", "role_accuracy") - _m(m, "q=0.5", "role_accuracy")
                           - 0.05},
        measured=lambda m: _list(m, ("q=0.5", "q=2", "random embedding"), "role_accuracy"),
        expected=False,
        presets=("mini-node2vec",),
    ),
]
