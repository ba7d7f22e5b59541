"""Siamese nets (Bromley et al. 1993) and FaceNet (Schroff et al. 2015): the architectures'
sizes against the papers, the losses and the negative selection of Sec. 3.2 on hand-made
embeddings, VAL at FAR (Sec. 4), the identity batches and the claims' margins."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn as nn

from reproductions import siamese as S
from reproductions.common.claims import NOT_REPRODUCED, REPRODUCED, verdict

CLAIMS = {c.id: c for c in S.CLAIMS}

# FaceNet Table 1, the "#params" column (weights; the paper rounds: 9K, 4K, 111K, ...)
NN1_TABLE1 = [9_408, 4_096, 110_592, 36_864, 663_552, 147_456, 884_736, 65_536, 589_824,
              65_536, 589_824, 102_760_448, 33_554_432, 524_288]


def test_nn1_has_table_1s_layers_and_maps_220_pixels_to_7x7x256_then_128():
    with torch.device("meta"):
        model = S.build_model(S.PRESETS["paper-facenet"])
        assert model.net.features(torch.empty(1, 3, 220, 220)).shape == (1, 256, 7, 7)
        assert model(torch.empty(2, 3, 220, 220)).shape == (2, 128)
    weights = [m.weight.numel() for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert weights == NN1_TABLE1
    assert sum(weights) == 140_006_592  # Table 1: 140M


def test_bromley_tdnn_maps_8_by_200_inputs_to_16_by_19_features():
    model = S.build_model(S.PRESETS["paper"])
    assert model.net.layers[:2](torch.zeros(1, 8, 200)).shape == (1, 12, 64)
    assert model.net(torch.zeros(3, 8, 200)).shape == (3, 16 * 19)
    assert sum(p.numel() for p in model.parameters()) == 3_004


def test_the_cosine_loss_is_zero_when_every_cosine_meets_its_target():
    e = torch.tensor([[1.0, 0.0], [1.0, 0.0], [-1.0, 0.0], [-1.0, 0.0]])
    ids = torch.tensor([0, 0, 1, 1])
    assert S.cosine_target_loss(e, ids, targets=(1.0, -1.0)).item() == pytest.approx(0.0)
    # with -0.9 for different pairs, each of them is 0.1 off: half the loss is 0.5 * 0.01
    assert S.cosine_target_loss(e, ids).item() == pytest.approx(0.5 * 0.01)


def _line(points):
    """Embeddings on a unit circle at the given angles: squared distances are easy to order."""
    a = torch.tensor(points)
    return torch.stack([a.cos(), a.sin()], 1)


def test_semi_hard_takes_the_hardest_negative_beyond_the_positive_within_the_margin():
    # anchor 0 and positive 1 at angle 0.3; negatives at 0.1 (harder than the positive),
    # 0.35 and 0.5 (semi-hard for margin 0.2), 2.0 (easy)
    e = _line([0.0, 0.3, 0.1, 0.35, 0.5, 2.0])
    ids = torch.tensor([0, 0, 1, 2, 3, 4])
    d2 = torch.cdist(e, e).pow(2)
    a, p = torch.tensor([0]), torch.tensor([1])
    assert S.select_negatives(d2, ids, a, p, 0.2, "semi-hard").item() == 3
    assert S.select_negatives(d2, ids, a, p, 0.2, "hardest").item() == 2
    picks = {S.select_negatives(d2, ids, a, p, 0.2, "random").item() for _ in range(200)}
    assert picks == {2, 3, 4, 5}
    # no negative inside the margin: a random negative instead
    far = _line([0.0, 0.3, 3.0, 2.5, 2.0, 1.5])
    got = S.select_negatives(torch.cdist(far, far).pow(2), ids, a, p, 0.2, "semi-hard").item()
    assert got in {2, 3, 4, 5}


def test_triplet_loss_is_eq_2_averaged_over_all_anchor_positive_pairs():
    torch.manual_seed(0)
    e = torch.randn(6, 4)
    ids = torch.tensor([0, 0, 1, 1, 2, 2])
    loss, _ = S.triplet_loss(e, ids, 0.2, "hardest")
    f = torch.nn.functional.normalize(e, dim=1)
    terms = []
    for a in range(6):
        for p in range(6):
            if a != p and ids[a] == ids[p]:
                d_an = min((f[a] - f[n]).pow(2).sum() for n in range(6) if ids[n] != ids[a])
                terms.append(torch.relu((f[a] - f[p]).pow(2).sum() - d_an + 0.2))
    assert loss.item() == pytest.approx(torch.stack(terms).mean().item(), abs=1e-5)


def test_val_at_far_counts_same_pairs_closer_than_the_far_threshold():
    # two identities far apart, each with two close images: every same pair is accepted
    e = torch.tensor([[0.0], [0.1], [5.0], [5.1]])
    ids = torch.tensor([0, 0, 1, 1])
    assert S.val_at_far(e, ids, 0.0) == 1.0
    # identity 1's images far from each other: its pair is rejected at FAR 0
    e2 = torch.tensor([[0.0], [0.1], [5.0], [20.0]])
    assert S.val_at_far(e2, ids, 0.0) == 0.5


def test_batches_hold_p_identities_with_k_images_each_and_replay_the_same():
    cfg = dataclasses.replace(S.PRESETS["mini-facenet"], train_identities=40, test_identities=20)
    (train, data), (again, _) = S.build_data(cfg), S.build_data(cfg)
    x, ids = next(iter(train))
    assert x.shape == (64, 1, 20, 20)
    assert torch.bincount(ids).tolist().count(4) == 16 and len(ids.unique()) == 16
    x2, ids2 = next(iter(again))
    assert torch.equal(x, x2) and torch.equal(ids, ids2)
    xte, yte = data["test"]
    assert xte.shape == (200, 1, 20, 20) and len(yte.unique()) == 20
    xtr, _, _, _ = S.glyph_split(cfg)
    assert not torch.equal(xtr[:10], xte[:10])  # other identities (another draw)


def test_mini_facenet_trains_one_variant_per_negative_selection_on_the_same_batches():
    runs = S.variants(S.PRESETS["mini-facenet"])
    assert {n: c.mining for n, c in runs.items()} == {
        "semi-hard": "semi-hard", "random": "random", "hardest": "hardest"}
    same = [dataclasses.replace(c, mining="semi-hard") for c in runs.values()]
    assert all(c == same[0] for c in same)
    assert set(S.variants(S.PRESETS["mini"])) == {"main", "untrained"}
    assert S.variants(S.PRESETS["mini"])["untrained"].steps == 0


def _m(main=0.6, untrained=0.01, pl2=0.04, pcos=0.07, semi=0.8, rand=0.7, hard=0.01,
       spread=(1.2, 0.05)):
    v = lambda x: {"val_far_1e-2": x, "val_far_1e-3": x / 2, "mean_distance": 1.0}  # noqa: E731
    m = {"main": v(main), "untrained": v(untrained), "pixel L2": v(pl2), "pixel cosine": v(pcos),
         "semi-hard": v(semi), "random": v(rand), "hardest": v(hard)}
    m["semi-hard"]["mean_distance"], m["hardest"]["mean_distance"] = spread
    return m


def test_claims_compare_with_the_named_controls_and_fail_when_they_should():
    assert verdict(CLAIMS["learned-distance"], "mini", _m())["margins"] == pytest.approx(
        {"untrained": 0.39, "pixel L2": 0.36, "pixel cosine": 0.33})
    assert verdict(CLAIMS["learned-distance"], "mini", _m(main=0.2))["verdict"] == NOT_REPRODUCED
    for cid in ("semi-hard-beats-pixels", "semi-hard-vs-random", "hardest-collapses"):
        assert verdict(CLAIMS[cid], "mini-facenet", _m())["verdict"] == REPRODUCED, cid
    assert verdict(CLAIMS["semi-hard-vs-random"], "mini-facenet",
                   _m(rand=0.79))["verdict"] == NOT_REPRODUCED
    spread_kept = _m(spread=(1.2, 0.5))  # hardest is worse but did not collapse
    assert verdict(CLAIMS["hardest-collapses"], "mini-facenet",
                   spread_kept)["verdict"] == NOT_REPRODUCED
    assert verdict(CLAIMS["learned-distance"], "mini-facenet", _m())["verdict"] == "not applicable"


def test_paper_presets_without_their_data_say_so():
    with pytest.raises(Exception, match="not shipped"):
        S.build_data(S.PRESETS["paper-facenet"])
    assert S.baselines(S.PRESETS["paper"]) == {}
