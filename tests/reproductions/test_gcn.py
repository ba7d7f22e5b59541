"""The graph core and the four node classifiers of reproductions/gcn.py: GCN's propagation rule
(Eq. 8, 9), GAT's masked attention (Eq. 1-6), GraphSAGE's mean aggregation (Algorithm 1) and its
inductive split, the graph transformer's neighbour-only attention, and the claims' margins."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from reproductions import gcn
from reproductions.common import graphs as G
from reproductions.common.claims import NOT_REPRODUCED, REPRODUCED, verdict

TINY = gcn.PRESETS["tiny"]


def two_cliques(n: int = 4):
    """Two n-cliques joined by one edge (nodes n-1 and n)."""
    adj = torch.zeros(2 * n, 2 * n)
    adj[:n, :n] = adj[n:, n:] = 1
    adj.fill_diagonal_(0)
    adj[n - 1, n] = adj[n, n - 1] = 1
    return adj, torch.tensor([0] * n + [1] * n)


def graph(cfg=TINY, arch="gcn"):
    cfg = dataclasses.replace(cfg, arch=arch, compare=())
    return cfg, gcn.build_data(cfg)[0][0]


def test_renormalized_adjacency_is_eq_8():
    adj, _ = two_cliques()
    a = adj + torch.eye(len(adj))
    d = torch.diag(a.sum(1) ** -0.5)
    assert torch.allclose(G.renormalized_adjacency(adj), d @ a @ d)
    eig = torch.linalg.eigvalsh(G.renormalized_adjacency(adj).double())
    assert eig.max() == pytest.approx(1.0) and eig.min() > -1  # why the trick stabilises


def test_gcn_forward_is_eq_9_in_eval_mode():
    cfg, g = graph()
    torch.manual_seed(0)
    model = gcn.build_model(cfg).eval()
    w0, w1 = model.layers[0].weight, model.layers[1].weight
    expected = g["a_hat"] @ F.relu(g["a_hat"] @ g["x"] @ w0) @ w1
    assert torch.allclose(model(g), expected, atol=1e-5)


def test_mlp_control_is_the_gcn_without_the_graph():
    cfg, g = graph(arch="mlp")
    model = gcn.build_model(cfg).eval()
    out = model(g)
    g2 = {**g, "a_hat": torch.zeros_like(g["a_hat"]), "mask": torch.eye(len(g["x"])) > 0}
    assert torch.equal(out, model(g2))


def test_gat_attention_is_a_softmax_over_the_neighbourhood_only():
    adj, _ = two_cliques()
    mask = (adj + torch.eye(len(adj))) > 0
    layer = gcn.GraphAttention(3, 2, heads=2, dropout=0.0, concat=True).eval()
    h = torch.randn(len(adj), 3)
    out = layer(h, mask)
    assert out.shape == (len(adj), 4)  # heads concatenated (Eq. 5)
    with torch.no_grad():  # a = 0: uniform attention = the mean of W h_j over N(i) and i
        layer.a.zero_()
    wh = torch.einsum("nf,hfo->hno", h, layer.w)
    mean = (mask.float() / mask.sum(1, keepdim=True)) @ wh  # (nh, N, F')
    assert torch.allclose(layer(h, mask), mean.permute(1, 0, 2).flatten(1), atol=1e-6)


def test_sage_evaluates_with_the_mean_of_all_neighbours_and_trains_on_samples():
    adj, _ = two_cliques()
    g = gcn.graph_tensors(torch.randn(8, 3), torch.zeros(8, dtype=torch.long),
                          adj, torch.ones(8, dtype=torch.bool), torch.ones(8, dtype=torch.bool), 0)
    layer = gcn.SageLayer(3, 4, samples=5).eval()
    mean = (adj / adj.sum(1, keepdim=True)) @ g["x"]
    expected = F.normalize(F.relu(layer.lin(torch.cat([g["x"], mean], 1))), dim=1)
    assert torch.allclose(layer(g["x"], g), expected, atol=1e-6)
    layer.train()
    torch.manual_seed(0)
    norms = layer(g["x"], g).norm(dim=1)  # Algorithm 1, line 7: unit length (or all ReLU-zero)
    assert ((norms - 1).abs() < 1e-5).logical_or(norms == 0).all()


def test_inductive_split_hides_the_test_nodes_from_training():
    cfg = dataclasses.replace(gcn.PRESETS["mini-sage"], nodes_per_class=10, compare=())
    (train,), ev = gcn.build_data(cfg)
    full = ev["test"]
    assert len(train["x"]) == int((~full["test"]).sum()) == len(full["x"]) // 2
    assert train["train"].all() and not full["train"][full["test"]].any()


def test_graph_transformer_attends_to_neighbours_only():
    cfg, g = graph(arch="gt")
    layer = gcn.GraphTransformerLayer(cfg.hidden, cfg.heads, 0.0).eval()
    h = torch.randn(len(g["x"]), cfg.hidden)
    far = (~g["mask"][0]).nonzero().squeeze(1)
    h2 = h.clone()
    h2[far] += 10.0
    assert torch.allclose(layer(h, g["mask"])[0], layer(h2, g["mask"])[0], atol=1e-5)


def test_laplacian_eigenvectors_separate_two_cliques():
    adj, y = two_cliques()
    v = G.laplacian_eigenvectors(adj, 1)[:, 0]
    assert ((v > 0) == (y == 1)).all() or ((v < 0) == (y == 1)).all()
    train = torch.tensor([True] + [False] * 6 + [True])
    assert torch.equal(G.label_propagation(adj, y, train), y)


def test_variants_train_each_compared_architecture_and_gt_without_pe():
    v = gcn.variants(gcn.PRESETS["mini-gt"])
    assert v["gt"].pe_dim > 0 and v["gt-no-pe"].pe_dim == 0 and v["gt-no-pe"].arch == "gt"
    assert set(gcn.variants(gcn.PRESETS["mini"])) == {"gcn", "mlp"}


def test_baselines_see_the_same_split_as_the_variants():
    cfg = dataclasses.replace(gcn.PRESETS["mini"], nodes_per_class=30)
    x, y, adj, train, test = gcn.graph_data(cfg)
    g = gcn.build_data(dataclasses.replace(cfg, compare=()))[0][0]
    assert torch.equal(g["train"], train) and torch.equal(g["y"], y)
    assert int(train.sum()) == cfg.labels_per_class * cfg.num_classes


def test_claims_measure_margins_over_controls_and_baselines():
    claims = {c.id: c for c in gcn.CLAIMS}
    acc = lambda **kw: {k.replace("_", " "): {"test_accuracy": v} for k, v in kw.items()}  # noqa: E731
    m = acc(gcn=0.84, mlp=0.66, logistic_regression_features=0.65, label_propagation=0.55,
            majority_class=0.2)
    r = verdict(claims["graph-beats-features"], "mini", m)
    assert r["margins"] == pytest.approx({"mlp": 0.08, "logistic regression features": 0.09})
    assert r["verdict"] == REPRODUCED
    m["mlp"]["test_accuracy"] = 0.80
    assert verdict(claims["graph-beats-features"], "mini", m)["verdict"] == NOT_REPRODUCED
