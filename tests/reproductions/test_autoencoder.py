"""The autoencoder module: Hinton's layer sizes, Kingma's ELBO (closed-form KL, reparameterised
sample), the error measure of Fig. 2, and the claims' margins."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from reproductions import autoencoder as A
from reproductions.common.claims import NOT_REPRODUCED, REPRODUCED, verdict

CLAIMS = {c.id: c for c in A.CLAIMS}


def test_paper_autoencoder_is_784_1000_500_250_30_and_its_mirror():
    with torch.device("meta"):
        model = A.build_model(A.PRESETS["paper"])
    encoder = [m.out_features for m in model.encoder if isinstance(m, torch.nn.Linear)]
    decoder = [m.out_features for m in model.decoder if isinstance(m, torch.nn.Linear)]
    assert encoder == [1000, 500, 250, 30] and decoder == [250, 500, 1000, 784]
    assert isinstance(model.encoder[-1], torch.nn.Linear)  # the code layer is linear
    assert sum(p.numel() for p in model.parameters()) == 2_837_314


def test_kl_term_is_the_closed_form_gaussian_kl():
    torch.manual_seed(0)
    cfg = dataclasses.replace(A.PRESETS["tiny"], variational=True)
    model = A.build_model(cfg)
    x = torch.rand(4, 784)
    mu, logvar = model.encode(x)
    q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    p = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))
    _, kl = model.elbo(x)
    assert torch.allclose(kl, torch.distributions.kl_divergence(q, p).sum(1), atol=1e-6)


def test_elbo_samples_z_by_reparameterisation_so_the_encoder_gets_a_gradient_from_log_p_x():
    torch.manual_seed(0)
    cfg = dataclasses.replace(A.PRESETS["tiny"], variational=True)
    model = A.build_model(cfg)
    x = torch.rand(4, 784)
    torch.manual_seed(1)
    elbo, kl = model.elbo(x)
    (-(elbo + kl).sum()).backward()  # log p(x|z) alone: reaches the encoder only through z
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.encoder.parameters())
    torch.manual_seed(1)
    mu, logvar = model.encode(x)
    z = mu + (0.5 * logvar).exp() * torch.randn_like(mu)
    log_px = -F.binary_cross_entropy_with_logits(model.decode(z), x, reduction="none").sum(1)
    assert torch.allclose(elbo + kl, log_px, atol=1e-5)


def test_squared_error_is_summed_over_pixels_and_averaged_over_images():
    x = torch.zeros(2, 784)
    rec = torch.zeros(2, 784)
    rec[0, :4] = 1.0
    assert A.squared_error(rec, x) == pytest.approx(2.0)


def test_plain_autoencoder_control_has_the_same_layers():
    runs = A.variants(A.PRESETS["mini-vae"])
    assert set(runs) == {"main", "ae"} and not runs["ae"].variational
    vae, ae = (A.build_model(runs[v]) for v in ("main", "ae"))
    assert [p.shape for p in vae.decoder.parameters()] == [p.shape for p in ae.decoder.parameters()]


def metrics(main=20.0, pca=30.0, mean=53.0, logistic=43.0):
    return {"main": {"test_squared_error": main}, "PCA": {"test_squared_error": pca},
            "mean image": {"test_squared_error": mean},
            "logistic": {"test_squared_error": logistic}}


def test_beats_pca_claim_needs_a_fifth_less_error_than_pca():
    row = verdict(CLAIMS["mini-beats-pca"], "mini", metrics())
    assert row["margins"] == pytest.approx({"PCA": 1 - 20 / 30 - 0.2, "mean image": 1 - 20 / 53 - 0.5,
                                            "logistic": 1 - 20 / 43 - 0.2})
    assert row["verdict"] == REPRODUCED
    assert verdict(CLAIMS["mini-beats-pca"], "mini", metrics(main=26.0))["verdict"] == NOT_REPRODUCED
    row = verdict(CLAIMS["mini-logistic-from-random"], "mini", metrics())
    assert row["margins"] == pytest.approx({"PCA": 43 / 30 - 1.1})
