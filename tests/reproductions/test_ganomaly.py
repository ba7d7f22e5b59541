"""GANomaly: the authors' networks, the losses' plumbing, the anomaly score, AUROC, the data splits.

The registry-wide checks (tiny step, gradients, --set, run folder) live in test_reproductions.py.
"""

from __future__ import annotations

import dataclasses
import struct

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from reproductions import ganomaly as g
from reproductions.common.claims import (
    NOT_EVALUATED,
    NOT_REPRODUCED,
    NOT_REPRODUCED_IN_MINIATURE,
    REPRODUCED,
)
from reproductions.common.config import ConfigError
from reproductions.common.runner import run
from reproductions.common.trainer import backward_each


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# --- the networks -------------------------------------------------------------------------------
@pytest.mark.parametrize(("dataset", "generator", "discriminator"),
                         [("mnist", 3_200_384, 661_248), ("cifar10", 3_206_528, 663_296)])
def test_networks_have_the_authors_parameter_counts(dataset, generator, discriminator):
    cfg = g.PRESETS["paper" if dataset == "mnist" else "cifar10"]
    assert cfg.dataset == dataset
    with torch.device("meta"):
        model = g.build_model(cfg)
    assert n_params(model.generator) == generator
    assert n_params(model.discriminator) == discriminator


def test_encoder_decoder_encoder_shapes_for_32x32_inputs():
    model = g.build_model(g.PRESETS["paper"]).eval()
    x = torch.rand(2, 1, 32, 32) * 2 - 1
    x_rec, z, z_rec = model.generator(x)
    logits, features = model.discriminator(x)
    assert x_rec.shape == x.shape and z.shape == z_rec.shape == (2, 100, 1, 1)
    assert logits.shape == (2,) and features.shape == (2, 256, 4, 4)
    assert x_rec.abs().max() <= 1  # the decoder ends in Tanh


def test_anomaly_score_is_the_l1_distance_between_the_two_latents():
    cfg = g.PRESETS["tiny"]
    model = g.build_model(cfg).eval()
    x = torch.rand(3, 1, 32, 32) * 2 - 1
    _, z, z_rec = model.generator(x)
    expected = (z - z_rec).abs().flatten(1).sum(1)  # Eq. 10
    assert torch.allclose(model.anomaly_score(x), expected)
    model.score = "l2"  # the authors' code: mean squared distance
    assert torch.allclose(model.anomaly_score(x), (z - z_rec).pow(2).flatten(1).mean(1))


def test_training_step_returns_one_loss_per_optimizer_and_the_d_loss_stops_at_the_generator():
    cfg = g.PRESETS["tiny"]
    torch.manual_seed(0)
    model = g.build_model(cfg)
    (opt_g, opt_d), _ = g.build_optimizer(model, cfg)
    batch = (torch.rand(4, 1, 32, 32) * 2 - 1, torch.zeros(4, dtype=torch.long))
    out = g.training_step(model, batch)
    loss_g, loss_d = out["losses"]
    assert out["loss"] is loss_g
    w_adv, w_con, w_enc = model.weights
    assert (w_adv, w_con, w_enc) == (1.0, 50.0, 1.0)  # Sec. 4
    assert torch.allclose(loss_g, w_adv * out["l_adv"] + w_con * out["l_con"] + w_enc * out["l_enc"])
    g_params, d_params = list(model.generator.parameters()), list(model.discriminator.parameters())
    want_g = torch.autograd.grad(loss_g, g_params, retain_graph=True)  # Eq. 9 alone
    want_d = torch.autograd.grad(loss_d, d_params, retain_graph=True)
    backward_each([loss_g, loss_d], [opt_g, opt_d])  # what the trainer does every step
    # G moves by its own loss only (D's loss never reaches it), and D by its own only
    assert all(torch.allclose(p.grad, w) for p, w in zip(g_params, want_g, strict=True))
    assert all(torch.allclose(p.grad, w) for p, w in zip(d_params, want_d, strict=True))
    assert {id(p) for p in opt_g.param_groups[0]["params"]} == {id(p) for p in model.generator.parameters()}
    assert opt_d.defaults["betas"] == (0.5, 0.999) and opt_d.defaults["lr"] == 2e-4


def test_a_collapsed_discriminator_is_reinitialised_before_the_next_step():
    model = g.build_model(g.PRESETS["tiny"])
    before = [p.detach().clone() for p in model.discriminator.parameters()]
    model.last_d_losses = (0.3, 1e-6)  # D told every fake apart
    g.training_step(model, (torch.zeros(2, 1, 32, 32), torch.zeros(2, dtype=torch.long)))
    after = list(model.discriminator.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, after, strict=True))


# --- AUROC --------------------------------------------------------------------------------------
@pytest.mark.parametrize(("scores", "labels", "expected"), [
    ([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1], 1.0),  # every anomaly above every normal
    ([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1], 0.0),
    ([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1], 0.75),  # 3 of the 4 (anomaly, normal) pairs ordered
    ([1.0, 1.0, 2.0], [0, 1, 1], 0.75),  # a tie between an anomaly and a normal counts 1/2
    ([5.0, 5.0, 5.0, 5.0], [0, 1, 0, 1], 0.5),  # all tied: chance
    ([3.0, 1.0, 2.0, 2.0, 0.0], [1, 0, 1, 0, 0], 5.5 / 6),  # pairs: 3 > all, 2 > 1 and 0, 2 = 2
])
def test_auroc_matches_hand_computed_cases(scores, labels, expected):
    assert g.auroc(scores, labels) == pytest.approx(expected)


def test_auroc_agrees_with_scikit_learn_with_many_ties():
    rng = np.random.default_rng(0)
    for _ in range(20):
        labels = rng.integers(0, 2, 200)
        scores = np.round(rng.normal(labels * 0.7, 1.0), 1)  # rounding makes ties
        assert g.auroc(scores, labels) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)


def test_auroc_refuses_a_single_class():
    with pytest.raises(ValueError, match="one positive and one negative"):
        g.auroc([0.1, 0.2], [0, 0])


# --- data ---------------------------------------------------------------------------------------
def _all(loader) -> tuple[torch.Tensor, torch.Tensor]:
    xs, ys = zip(*loader, strict=True)
    return torch.cat(xs), torch.cat(ys)


def test_rings_share_ink_but_not_structure_and_test_on_another_seed():
    cfg = g.PRESETS["mini"]
    loader, (x_test, y_test) = g.build_data(cfg)
    x_train, _ = _all(loader)
    assert len(loader.dataset) == 2000 and x_test.shape == (600, 1, 32, 32)
    assert y_test.tolist() == [0] * 300 + [1] * 300
    assert x_train.min() >= -1 and x_train.max() <= 1
    ink = (x_test + 1).sum((1, 2, 3))  # the same length of outline: about the same ink
    assert abs(ink[:300].mean() - ink[300:].mean()) < 0.07 * ink.mean()
    assert 0.3 < g.auroc(ink.numpy(), y_test.numpy()) < 0.7  # ink alone: a poor detector
    assert not any(torch.equal(x_test[0], x) for x in loader.dataset.tensors[0])
    again = g.build_data(cfg)[1][0]
    assert torch.equal(x_test, again)  # generated from the seed: the same in every variant


def test_background_adds_a_smooth_field_that_moves_every_pixel():
    cfg = dataclasses.replace(g.PRESETS["mini"], background_sd=0.2, num_train=16, num_test=4)
    x = g.build_data(cfg)[1][0]
    assert (x > -1).float().mean() > 0.5  # black (-1) only where the field is dark


def test_baselines_are_pixel_distances_on_the_runs_own_split():
    cfg = dataclasses.replace(g.PRESETS["mini"], num_train=400, num_test=100)
    found = g.baselines(cfg)
    assert set(found) == {"nearest normal pixels", "mean normal pixels"}
    assert found["nearest normal pixels"]["auroc"] > 0.8  # small rings overlap no normal
    assert 0.4 < found["mean normal pixels"]["auroc"] < 0.65  # the same ink: near chance
    assert g.baselines(dataclasses.replace(cfg, data_root="MNIST")) == {}  # real data: none


def test_one_class_split_trains_on_the_normal_digit_and_tests_on_all_anomalies():
    cfg = dataclasses.replace(g.PRESETS["mini"], dataset="mnist")  # digit 1 the only normal
    loader, (x_test, y_test) = g.build_data(cfg)
    x_train, y_train = _all(loader)
    assert set(y_train.tolist()) == {1}
    assert x_train.shape[1:] == (1, 32, 32) and x_train.min() >= -1 and x_train.max() <= 1
    assert x_train[..., :2, :].eq(-1).all(), "28x28 digits are zero-padded (black) to 32x32"
    assert int((y_test == 0).sum()) == 100  # the held-out 20% of the 500 ones
    assert int((y_test == 1).sum()) == 4500  # every other digit is an anomaly
    assert len(x_test) == len(y_test) == 4600


def test_paper_protocol_keeps_the_anomalous_digit_out_of_training():
    cfg = dataclasses.replace(g.PRESETS["mini"], dataset="mnist", protocol="one_anomaly",
                              class_index=0)
    loader, (_, y_test) = g.build_data(cfg)
    _, y_train = _all(loader)
    assert 0 not in set(y_train.tolist()) and len(set(y_train.tolist())) == 9
    assert int(y_test.sum()) == 500 and int((y_test == 0).sum()) == 900


def _write_idx(path, array: np.ndarray) -> None:
    """The MNIST idx format: magic (0, 0, type 0x08 = uint8, ndim), big-endian sizes, data."""
    header = struct.pack(">BBBB", 0, 0, 8, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def test_real_mnist_is_read_from_data_root_in_its_on_disk_format(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 40), ("t10k", 20)):
        _write_idx(raw / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)))
        _write_idx(raw / f"{prefix}-labels-idx1-ubyte", np.arange(n) % 10)
    cfg = dataclasses.replace(g.PRESETS["tiny"], data_root=str(tmp_path), dataset="mnist",
                              protocol="one_anomaly", class_index=3, batch_size=8)
    loader, (x_test, y_test) = g.build_data(cfg)
    x_train, y_train = _all(loader)
    assert len(y_train) == 32 and 3 not in set(y_train.tolist())  # 36 normals, whole batches
    assert x_test.shape == (20, 1, 32, 32) and y_test.tolist() == [int(i % 10 == 3) for i in range(20)]


def test_missing_real_data_is_a_one_line_config_error(tmp_path):
    cfg = dataclasses.replace(g.PRESETS["tiny"], data_root=str(tmp_path / "nowhere"),
                              dataset="mnist")
    with pytest.raises(ConfigError, match="mnist not found under"):
        g.build_data(cfg)


# --- the claims ---------------------------------------------------------------------------------
def mini_metrics(main=0.95, untrained=0.6, nearest=0.99, mean=0.54):
    return {"main": {"auroc": main}, "untrained": {"auroc": untrained},
            "nearest normal pixels": {"auroc": nearest}, "mean normal pixels": {"auroc": mean}}


def _rows(metrics):
    from reproductions.common.claims import verdicts

    return {r["id"]: r for r in verdicts(g.CLAIMS, "mini", metrics)}


def test_learned_score_claim_compares_with_the_untrained_network_and_the_mean_normal():
    row = _rows(mini_metrics())["mini-learned-score"]
    assert row["verdict"] == REPRODUCED
    assert row["compared_with"] == ["untrained", "mean normal pixels"]
    assert row["margins"]["untrained"] == pytest.approx(0.95 - 0.6 - 0.1)
    assert "nearest normal pixels 0.990" in row["measured"]
    assert _rows(mini_metrics(untrained=0.9))["mini-learned-score"]["verdict"] == NOT_REPRODUCED
    assert _rows(mini_metrics(mean=0.9))["mini-learned-score"]["verdict"] == NOT_REPRODUCED


def test_losing_to_pixel_1nn_is_reported_as_not_reproduced_in_miniature():
    rows = _rows(mini_metrics())
    row = rows["mini-beats-pixel-distance"]
    assert row["verdict"] == NOT_REPRODUCED_IN_MINIATURE and not row["expected"]
    assert row["compared_with"] == ["nearest normal pixels"]
    assert row["margin"] == pytest.approx(0.95 - 0.99)
    assert _rows(mini_metrics(nearest=0.9))["mini-beats-pixel-distance"]["verdict"] == REPRODUCED
    assert rows["mnist"]["verdict"] == "not applicable" and "data_root" in rows["mnist"]["needs"]


def test_a_run_without_the_baselines_is_not_evaluated():
    metrics = {k: v for k, v in mini_metrics().items() if "pixels" not in k}
    assert {r["verdict"] for r in _rows(metrics).values() if r["id"].startswith("mini")} == \
        {NOT_EVALUATED}


@pytest.mark.slow
def test_mini_claims_hold_for_at_least_4_of_5_seeds(tmp_path):
    held = {c.id: 0 for c in g.CLAIMS if c.margins is not None and c.expected}
    for seed in range(5):
        cfg = dataclasses.replace(g.PRESETS["mini"], seed=seed)
        result = run(g, cfg, "mini", tmp_path / f"seed{seed}", name="ganomaly")
        for row in result["claims"]:
            if row["id"] in held:
                held[row["id"]] += row["verdict"] == REPRODUCED
    assert held and all(n >= 4 for n in held.values()), held
