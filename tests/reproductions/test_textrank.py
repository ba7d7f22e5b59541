"""TextRank: Eq. 1 against networkx.pagerank (unweighted and weighted graphs), the co-occurrence
window and sentence similarity of Sec. 3.1 / 4.1, the post-processing into key phrases, and the
generated documents."""

from __future__ import annotations

import dataclasses
import math

import networkx as nx
import pytest
import torch

from reproductions import textrank as T


def as_vector(scores: dict, n: int) -> torch.Tensor:
    return torch.tensor([scores[i] for i in range(n)], dtype=torch.float64)


@pytest.mark.parametrize("weighted", [False, True])
def test_pagerank_equals_networkx_pagerank_times_n(weighted):
    """Eq. 1 sums to N where networkx's PageRank sums to 1; otherwise the same fixed point."""
    g = nx.connected_watts_strogatz_graph(40, 4, 0.3, seed=1)
    gen = torch.Generator().manual_seed(0)
    for u, v in g.edges:
        g[u][v]["weight"] = float(torch.rand(1, generator=gen)) + 0.1 if weighted else 1.0
    adj = torch.tensor(nx.to_numpy_array(g, nodelist=range(40)))
    ours, _ = T.pagerank(adj, 0.85, tol=1e-13, max_iter=10_000)
    ref = nx.pagerank(g, alpha=0.85, tol=1e-14, max_iter=10_000, weight="weight")
    torch.testing.assert_close(ours / 40, as_vector(ref, 40), rtol=0, atol=1e-10)
    assert float(ours.sum()) == pytest.approx(40)


def test_pagerank_on_a_directed_graph_follows_eq_1():
    """A 3-cycle plus a vertex pointing into it: In/Out as Eq. 1 (the source gets only 1 - d)."""
    adj = torch.zeros(4, 4, dtype=torch.float64)
    adj[0, 1] = adj[1, 2] = adj[2, 0] = adj[3, 0] = 1.0  # adj[j, i]: edge j -> i
    s, _ = T.pagerank(adj, 0.85, tol=1e-14, max_iter=10_000)
    assert s[3] == pytest.approx(0.15)
    assert s[0] == pytest.approx(0.15 + 0.85 * (s[2] + s[3]))
    assert s[1] == pytest.approx(0.15 + 0.85 * s[0])


def test_start_values_change_the_iterations_not_the_scores():
    g = nx.karate_club_graph()
    adj = torch.tensor(nx.to_numpy_array(g, weight=None))
    a, it_a = T.pagerank(adj, tol=1e-12, max_iter=10_000)
    b, it_b = T.pagerank(adj, tol=1e-12, max_iter=10_000,
                         start=torch.linspace(0, 5, 34, dtype=torch.float64))
    torch.testing.assert_close(a, b, rtol=0, atol=1e-9)
    assert it_a != it_b


def test_window_two_links_only_neighbouring_words():
    words, adj = T.cooccurrence_graph([5, 6, 7, 5], window=2)
    assert words == [5, 6, 7]
    assert adj.tolist() == [[0, 1, 1], [1, 0, 1], [1, 1, 0]]  # 5-6, 6-7, 7-5
    _, adj = T.cooccurrence_graph([5, 6, 7, 8], window=2)
    assert adj[0, 2] == 0 and adj[0, 1] == 1  # 5 and 7 are two apart
    _, adj = T.cooccurrence_graph([5, 6, 7, 8], window=3)
    assert adj[0, 2] == 1 and adj[0, 3] == 0


def test_sentence_similarity_is_overlap_over_log_lengths():
    a, b = [1, 2, 3, 4], [3, 4, 5, 6, 7, 8, 9, 10]
    assert T.similarity(a, b) == pytest.approx(2 / (math.log(4) + math.log(8)))
    assert T.similarity([1], [1]) == 0.0
    adj = T.sentence_graph([a, b, [11, 12]])
    assert adj[0, 1] == adj[1, 0] > 0 and adj[0, 2] == 0 and adj.diagonal().eq(0).all()


def test_adjacent_keywords_collapse_into_phrases():
    tokens = [1, 2, 9, 3, 1, 2, 4, 5, 6]
    assert T.collapse(tokens, {1, 2, 5, 6}) == [(1, 2), (5, 6)]


def test_generated_documents_plant_their_keywords_and_summary_sentences():
    cfg = T.PRESETS["mini"]
    docs = T.generate(dataclasses.replace(cfg, documents=20), seed=0)
    topic_start = cfg.function_words + cfg.content_words
    for d in docs:
        assert len(d.sentences) == cfg.sentences and len(d.summary) == cfg.summary_sentences
        assert len(d.keywords) == cfg.topic_words and min(d.keywords) >= topic_start
        in_text = {t for s in d.sentences for t in s if t >= topic_start}
        assert in_text <= d.keywords
        for i in d.summary:  # three key phrase mentions: at least three keyword tokens
            assert sum(t in d.keywords for t in d.sentences[i]) >= 3
    assert T.generate(dataclasses.replace(cfg, documents=3), seed=0)[0].sentences == \
        docs[0].sentences


def test_filter_drops_the_function_words():
    cfg = T.PRESETS["mini"]
    d = T.generate(dataclasses.replace(cfg, documents=1), seed=0)[0]
    assert min(d.tokens(cfg)) >= cfg.function_words
    assert min(d.tokens(dataclasses.replace(cfg, word_filter=False))) < cfg.function_words


def test_paper_preset_keeps_a_third_of_the_vertices():
    cfg = dataclasses.replace(T.PRESETS["paper"], documents=2)
    model = T.build_model(cfg)
    d = T.generate(cfg, seed=0)[0]
    assert len(model.keywords(d)) == len(set(d.tokens(cfg))) // 3
    assert sum(p.numel() for p in model.parameters()) == 0


def test_steps_other_than_zero_are_refused():
    with pytest.raises(T.ConfigError, match="learns nothing"):
        T.build_model(dataclasses.replace(T.PRESETS["tiny"], steps=5))
