"""The graph core shared by the graph reproductions (gcn.py, deepwalk.py): generated graphs,
adjacency normalisation, label splits and the non-neural baselines on a graph.

Graphs are small (hundreds to a few thousand nodes) and held as dense tensors: a node's
features `x (N, F)`, labels `y (N,)`, the 0/1 adjacency `adj (N, N)` without self-loops. The
generated graphs need no download:

- `attributed_sbm`: a stochastic block model (Holland et al., 1983) whose blocks are the
  classes, each node with a noisy Gaussian feature vector around its class's mean: community
  structure and features each tell part of the label (the setting of semi-supervised node
  classification).
- `communities_and_roles`: planted communities, each a star-like cluster of hubs and
  peripheral nodes: a node has a community (homophily) and a role (structural equivalence).
- `cora(root)`: the Cora citation graph read from the LINQS files `cora.content` and
  `cora.cites` in `root` (not shipped; nothing is downloaded).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from reproductions.common.config import ConfigError


def _symmetric(upper: np.ndarray) -> np.ndarray:
    a = np.triu(upper, 1)
    return a + a.T


def attributed_sbm(nodes_per_class: int, classes: int, p_in: float, p_out: float,
                   features: int, signal: float, seed: int):
    """`(x, y, adj)`: an SBM with `classes` blocks of `nodes_per_class` nodes (edge
    probability `p_in` inside a block, `p_out` between blocks) and features
    x_i = signal * mu_{y_i} + noise, mu_c and the noise standard normal."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(classes), nodes_per_class)
    prob = np.where(y[:, None] == y[None, :], p_in, p_out)
    adj = _symmetric(rng.random(prob.shape) < prob).astype(np.float32)
    means = rng.standard_normal((classes, features))
    x = signal * means[y] + rng.standard_normal((len(y), features))
    return (torch.tensor(x, dtype=torch.float32), torch.tensor(y), torch.tensor(adj))


def communities_and_roles(communities: int, hubs: int, leaves_per_hub: int, p_hub: float,
                          p_leaf: float, seed: int, p_noise: float = 0.0):
    """`(community (N,), role (N,), adj)`: per community `hubs` hubs densely linked to each
    other (probability `p_hub`), each with `leaves_per_hub` leaves attached to it (role 1) that
    link among themselves with probability `p_leaf`; one hub of community c is tied to one hub of
    community c + 1, a ring; any two nodes are joined with probability `p_noise`. Role 0 = hub. Nodes of one role play the same part in every
    community: structurally equivalent, far apart in the graph."""
    rng = np.random.default_rng(seed)
    per = hubs * (1 + leaves_per_hub)
    n = communities * per
    adj = np.zeros((n, n), dtype=np.float32)
    community = np.repeat(np.arange(communities), per)
    role = np.tile(np.r_[np.zeros(hubs), np.ones(hubs * leaves_per_hub)], communities)
    for c in range(communities):
        base = c * per
        hub_ids = base + np.arange(hubs)
        adj[np.ix_(hub_ids, hub_ids)] = rng.random((hubs, hubs)) < p_hub
        for h in range(hubs):
            leaves = base + hubs + h * leaves_per_hub + np.arange(leaves_per_hub)
            adj[hub_ids[h], leaves] = 1
            adj[np.ix_(leaves, leaves)] = rng.random((leaves_per_hub, leaves_per_hub)) < p_leaf
        nxt = ((c + 1) % communities) * per
        adj[base, nxt] = 1
    adj = np.maximum(adj, rng.random((n, n)) < p_noise)
    adj = _symmetric(np.maximum(adj, adj.T))
    return torch.tensor(community), torch.tensor(role, dtype=torch.long), torch.tensor(adj)


def cora(root: str | Path):
    """`(x, y, adj)` of Cora (2,708 papers, 1,433 binary word features, 7 classes) from the
    LINQS release's `cora.content` (id, words, label) and `cora.cites` (cited, citing)."""
    root = Path(root)
    if not (root / "cora.content").is_file():
        raise ConfigError(f"{root} has no cora.content / cora.cites (the LINQS Cora release)")
    rows = [line.split("\t") for line in (root / "cora.content").read_text().splitlines() if line]
    index = {r[0]: i for i, r in enumerate(rows)}
    labels = sorted({r[-1] for r in rows})
    x = torch.tensor([[float(v) for v in r[1:-1]] for r in rows])
    y = torch.tensor([labels.index(r[-1]) for r in rows])
    adj = torch.zeros(len(rows), len(rows))
    for line in (root / "cora.cites").read_text().splitlines():
        a, b = line.split()
        if a in index and b in index:
            adj[index[a], index[b]] = adj[index[b], index[a]] = 1.0
    adj.fill_diagonal_(0)
    return x, y, adj


# --- adjacency -----------------------------------------------------------------------------


def renormalized_adjacency(adj: torch.Tensor) -> torch.Tensor:
    """A_hat = D~^-1/2 (A + I) D~^-1/2 with D~_ii = sum_j (A + I)_ij: Kipf & Welling's
    renormalisation trick (their Eq. 8)."""
    a = adj + torch.eye(len(adj))
    d = a.sum(1).rsqrt()  # (N,)
    return d[:, None] * a * d[None, :]


def symmetric_normalized(adj: torch.Tensor) -> torch.Tensor:
    """D^-1/2 A D^-1/2 without self-loops (isolated nodes keep a zero row)."""
    deg = adj.sum(1)
    d = torch.where(deg > 0, deg.clamp(min=1e-12).rsqrt(), torch.zeros_like(deg))
    return d[:, None] * adj * d[None, :]


def laplacian_eigenvectors(adj: torch.Tensor, k: int) -> torch.Tensor:
    """(N, k): the eigenvectors of L = I - D^-1/2 A D^-1/2 with the k smallest non-trivial
    eigenvalues (the first, ~0, dropped): Laplacian positional encodings / spectral embedding."""
    lap = torch.eye(len(adj), dtype=torch.float64) - symmetric_normalized(adj.double())
    _, vecs = torch.linalg.eigh(lap)  # ascending eigenvalues
    return vecs[:, 1:k + 1].float()


# --- splits and baselines ------------------------------------------------------------------


def label_split(y: torch.Tensor, per_class: int, seed: int) -> torch.Tensor:
    """(N,) bool: `per_class` random labelled nodes of each class (the rest are test nodes)."""
    g = torch.Generator().manual_seed(seed)
    train = torch.zeros(len(y), dtype=torch.bool)
    for c in y.unique():
        ids = (y == c).nonzero().squeeze(1)
        train[ids[torch.randperm(len(ids), generator=g)[:per_class]]] = True
    return train


def label_propagation(adj: torch.Tensor, y: torch.Tensor, train: torch.Tensor,
                      alpha: float = 0.99, iterations: int = 200) -> torch.Tensor:
    """Predicted classes (N,) of label spreading (Zhou et al., 2004): F <- alpha S F +
    (1 - alpha) Y with S = D^-1/2 A D^-1/2, Y the one-hot labels of the training nodes."""
    s = symmetric_normalized(adj.double())
    y0 = torch.zeros(len(y), int(y.max()) + 1, dtype=torch.float64)
    y0[train, y[train]] = 1.0
    f = y0.clone()
    for _ in range(iterations):
        f = alpha * s @ f + (1 - alpha) * y0
    return f.argmax(1)


def majority_accuracy(y: torch.Tensor, train: torch.Tensor, test: torch.Tensor) -> float:
    """Accuracy on `test` of predicting the most frequent training class."""
    return float((y[test] == torch.bincount(y[train]).argmax()).float().mean())


def nmi(labels_a, labels_b) -> float:
    from sklearn.metrics import normalized_mutual_info_score

    return float(normalized_mutual_info_score(np.asarray(labels_a), np.asarray(labels_b)))


def kmeans_nmi(emb: torch.Tensor, truth: torch.Tensor, clusters: int, seed: int = 0) -> float:
    """NMI between k-means clusters of the (row-normalised) embedding and the planted labels."""
    from sklearn.cluster import KMeans

    e = torch.nn.functional.normalize(emb.double(), dim=1).numpy()
    pred = KMeans(clusters, n_init=10, random_state=seed).fit_predict(e)
    return nmi(pred, truth.numpy())


def few_label_accuracy(emb: torch.Tensor, y: torch.Tensor, per_class: int, seed: int) -> float:
    """Test accuracy of logistic regression on the embedding, trained on `per_class` labelled
    nodes per class (DeepWalk's multi-label protocol, Sec. 5, reduced to single labels)."""
    from sklearn.linear_model import LogisticRegression

    train = label_split(y, per_class, seed)
    e = torch.nn.functional.normalize(emb.double(), dim=1).numpy()
    clf = LogisticRegression(max_iter=1000).fit(e[train.numpy()], y[train].numpy())
    return float((clf.predict(e[~train.numpy()]) == y[~train].numpy()).mean())
