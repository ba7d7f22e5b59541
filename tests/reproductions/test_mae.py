"""MAE: the encoder is timm's ViT (same names, same outputs), masking keeps N(1 - r) patches and
the loss reads only the masked ones (Sec. 3), the trivial reconstructions and the claims."""

from __future__ import annotations

import dataclasses

import pytest
import timm
import torch

from reproductions import mae, vit
from reproductions.common.claims import NOT_REPRODUCED, REPRODUCED, verdict

TINY = mae.PRESETS["tiny"]
CLAIMS = {c.id: c for c in mae.CLAIMS}


def test_paper_encoder_is_timms_vit_large_and_the_decoder_is_8_blocks_of_512():
    with torch.device("meta"):
        ours = mae.build_model(mae.PRESETS["paper"])
        reference = timm.create_model("vit_large_patch16_224", num_classes=0)
    assert ours.encoder.state_dict().keys() == reference.state_dict().keys()
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(ours.encoder) == count(reference) == 303_301_632
    assert len(ours.decoder_blocks) == 8 and ours.decoder_embed.out_features == 512
    assert count(ours) - count(ours.encoder) == 26_240_256  # with its fixed 197 x 512 positions
    assert ours.cfg.mask_ratio == 0.75 and ours.cfg.norm_pix


def test_encoder_gives_timms_output_with_the_same_weights():
    torch.manual_seed(0)
    ours = mae.build_model(TINY).encoder.eval()
    reference = timm.models.vision_transformer.VisionTransformer(
        img_size=28, patch_size=7, in_chans=1, embed_dim=16, depth=1, num_heads=2, mlp_ratio=2,
        num_classes=0).eval()
    reference.load_state_dict(ours.state_dict())
    x = torch.randn(3, 1, 28, 28)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), reference(x))


def test_position_tables_are_fixed_sine_cosine_and_not_trained():
    model = mae.build_model(TINY)
    assert not model.encoder.pos_embed.requires_grad and not model.decoder_pos_embed.requires_grad
    table = mae.sincos_2d(16, 4)
    assert table.shape == (16, 16) and table.abs().max() <= 1
    torch.testing.assert_close(model.encoder.pos_embed[0, 1:], table)
    opt, _ = mae.build_optimizer(model, TINY)
    owned = {id(p) for g in opt.param_groups for p in g["params"]}
    assert id(model.encoder.pos_embed) not in owned


def test_masking_keeps_a_quarter_of_the_patches_and_restore_undoes_the_shuffle():
    keep, mask, restore = mae.random_masking(5, 16, 0.75, torch.Generator().manual_seed(0))
    assert keep.shape == (5, 4) and mask.sum(1).tolist() == [12] * 5
    for b in range(5):
        assert not mask[b, keep[b]].any()  # the kept patches are the visible ones
    shuffle = restore.argsort(1)
    torch.testing.assert_close(shuffle.gather(1, restore), torch.arange(16).expand(5, -1))


def test_patchify_matches_the_patch_embedding_and_normalised_targets_are_standardised():
    model = mae.build_model(TINY)
    x = torch.randn(2, 1, 28, 28)
    w = model.encoder.patch_embed.proj
    linear = mae.patchify(x, 7) @ w.weight.flatten(1).T + w.bias  # (B, N, D)
    torch.testing.assert_close(linear, model.encoder.patch_embed(x), atol=1e-5, rtol=1e-5)
    t = mae.patch_targets(x, 7, norm_pix=True)
    torch.testing.assert_close(t.mean(-1), torch.zeros(2, 16), atol=1e-5, rtol=0)


def test_the_loss_reads_only_the_masked_patches():
    torch.manual_seed(0)
    model = mae.build_model(TINY)
    x = torch.randn(2, 1, 28, 28)
    loss, pred, mask = model(x, generator=torch.Generator().manual_seed(1))
    err = (pred - mae.patch_targets(x, 7, True)).pow(2).mean(-1)
    torch.testing.assert_close(loss, err[mask].mean())
    _, _, mask0 = model(x, generator=torch.Generator().manual_seed(1))
    assert torch.equal(mask, mask0)


def test_nearest_visible_baseline_copies_a_visible_patch_and_the_scores_are_finite():
    torch.manual_seed(0)
    model = mae.build_model(TINY).eval()
    xtr, xte = torch.randn(8, 1, 28, 28), torch.randn(4, 1, 28, 28)
    with torch.no_grad():
        found = mae.reconstruction(model, xtr, xte, seed=0)
    assert set(found) == {"recon_mse", "mean_patch_mse", "nearest_visible_mse"}
    assert all(v > 0 for v in found.values())


def test_mini_pretrains_one_mae_and_fine_tunes_it_against_the_same_vit_from_scratch():
    assert set(mae.variants(mae.PRESETS["mini"])) == {"mae"}
    assert isinstance(mae.build_model(mae.PRESETS["tiny"]).encoder.head, torch.nn.Identity)
    assert isinstance(mae.build_model(mae.PRESETS["mini"]).encoder, vit.VisionTransformer)
    labels = mae.few_labels(torch.arange(100) % 10, 3, seed=0)
    assert torch.bincount(labels % 10).tolist() == [3] * 10
    runs = mae.variants(dataclasses.replace(mae.PRESETS["mini"], compare_ratios=(0.5, 0.9)))
    assert {n: c.mask_ratio for n, c in runs.items()} == {"mae": 0.75, "ratio-0.5": 0.5,
                                                          "ratio-0.9": 0.9}


def metrics(recon=0.2, mean=0.5, near=1.0, ft=0.7, scratch=0.5, probe=0.55, random_probe=0.37,
            nn=0.78, lr=0.75):
    return {"mae": {"recon_mse": recon, "mean_patch_mse": mean, "nearest_visible_mse": near,
                    "finetune_accuracy": ft, "scratch_accuracy": scratch, "probe_accuracy": probe,
                    "random_probe_accuracy": random_probe},
            "1-NN pixels": {"test_accuracy": nn},
            "logistic regression pixels": {"test_accuracy": lr}}


def test_reconstruction_claim_needs_a_clear_gain_over_both_trivial_reconstructions():
    c = CLAIMS["reconstruction"]
    assert verdict(c, "mini", metrics())["verdict"] == REPRODUCED
    assert verdict(c, "mini", metrics(recon=0.48))["verdict"] == NOT_REPRODUCED


def test_paper_scale_claims_say_what_they_need():
    for claim in mae.CLAIMS:
        assert (claim.margins is None) == bool(claim.needs), claim.id


def test_each_claim_compares_with_its_control_or_baseline():
    m = metrics()
    assert verdict(CLAIMS["probe-beats-untrained"], "mini", m)["margins"] == pytest.approx(
        {"untrained encoder": 0.55 - 0.37 - 0.1})
    assert verdict(CLAIMS["pretraining-helps"], "mini", m)["margins"] == pytest.approx(
        {"scratch": 0.7 - 0.5 - 0.03})
    assert verdict(CLAIMS["beats-pixel-baselines"], "mini", m)["margins"] == pytest.approx(
        {"1-NN pixels": 0.7 - 0.78 - 0.03, "logistic regression pixels": 0.7 - 0.75 - 0.03})
    assert verdict(CLAIMS["probe-beats-untrained"], "mini",
                   metrics(random_probe=0.5))["verdict"] == NOT_REPRODUCED
