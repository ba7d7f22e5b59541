"""The CLIP reproduction: equivalence with open_clip, the loss, tokenisers, zero-shot, data, claims.

Reference models are open_clip's architectures built without pretrained weights (their random
initialisation; nothing is downloaded).
"""

from __future__ import annotations

import dataclasses
import math

import open_clip
import pytest
import torch
import torch.nn.functional as F

from reproductions import clip as C
from reproductions import transformer, vit
from reproductions.common import shapes_captions as S
from reproductions.common.claims import REPRODUCED
from reproductions.common.config import ConfigError
from reproductions.common.open_clip_weights import load_open_clip_state_dict
from reproductions.common.runner import run
from reproductions.common.text_tokenizers import WordTokenizer, bpe_tokenizer, tokenizer_for

MINI = C.PRESETS["mini"]


def _open_clip_like(cfg: C.Config) -> open_clip.model.CLIP:
    """open_clip's CLIP class with the sizes of one of our (ViT) configs."""
    vision = dict(image_size=cfg.image_size, patch_size=cfg.patch_size, width=cfg.vision_width,
                  layers=cfg.vision_layers, head_width=cfg.vision_width // cfg.vision_heads)
    text = dict(context_length=cfg.context_length, vocab_size=cfg.vocab_size, width=cfg.text_width,
                heads=cfg.text_heads, layers=cfg.text_layers)
    return open_clip.model.CLIP(cfg.embed_dim, vision, text).eval()


def _ours_from(reference, cfg) -> C.CLIP:
    model = C.build_model(cfg).eval()
    load_open_clip_state_dict(model, reference.state_dict())
    return model


# --- equivalence with open_clip ---------------------------------------------------------------
def test_vit_b32_gives_open_clips_image_and_text_embeddings():
    torch.manual_seed(0)
    reference = open_clip.create_model("ViT-B-32").eval()  # no pretrained tag: no download
    ours = _ours_from(reference, C.PRESETS["paper"])
    images = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    text = bpe_tokenizer()(["a photo of a dog.", "a diagram of a transformer"], 77)
    with torch.no_grad():
        expected_i, expected_t = reference.encode_image(images), reference.encode_text(text)
        got_i, got_t = ours.encode_image(images), ours.encode_text(text)
        _, _, scale = ours(images, text)
    assert expected_i.std() > 0 and expected_t.std() > 0
    torch.testing.assert_close(got_i, expected_i, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(got_t, expected_t, rtol=1e-4, atol=1e-5)
    assert scale.item() == pytest.approx(reference.logit_scale.exp().item())


def test_rn50_gives_open_clips_image_embeddings():
    torch.manual_seed(0)
    reference = open_clip.create_model("RN50").eval()
    for m in reference.modules():  # exercise eval-mode BatchNorm with non-trivial statistics
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.1)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
    ours = _ours_from(reference, C.PRESETS["rn50"])
    images = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected, got = reference.encode_image(images), ours.encode_image(images)
    assert expected.std() > 0
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


def test_miniature_sized_model_matches_open_clip_too():
    torch.manual_seed(0)
    reference = _open_clip_like(MINI)
    ours = _ours_from(reference, MINI)
    images = torch.rand(4, 3, 16, 16)
    text = tokenizer_for(MINI, S.MINI_WORDS)(["a red circle", "the ring is blue", "a photo of a cross."], 10)
    with torch.no_grad():
        torch.testing.assert_close(ours.encode_image(images), reference.encode_image(images))
        torch.testing.assert_close(ours.encode_text(text), reference.encode_text(text))


def test_towers_are_built_from_vit_and_transformer_blocks():
    model = C.build_model(MINI)
    assert all(isinstance(b, vit.Block) for b in model.visual.blocks)
    assert all(isinstance(b, transformer.EncoderLayer) and b.norm_first for b in model.transformer)


def test_text_tower_is_causal_and_reads_the_end_of_text_token():
    torch.manual_seed(0)
    model = C.build_model(MINI).eval()
    tok = tokenizer_for(MINI, S.MINI_WORDS)
    a, b = tok(["a red circle"], 10), tok(["a red circle"], 10)
    b[0, -1] = 5  # a token after <eot> (where padding would be) cannot change the embedding
    torch.testing.assert_close(model.encode_text(a), model.encode_text(b))
    c = tok(["a blue circle"], 10)
    assert not torch.allclose(model.encode_text(a), model.encode_text(c))


# --- the loss ----------------------------------------------------------------------------------
def test_contrastive_loss_equals_open_clips_clip_loss():
    torch.manual_seed(0)
    image, text = torch.randn(8, 16), torch.randn(8, 16)
    scale = torch.tensor(1 / 0.07)
    expected = open_clip.loss.ClipLoss()(F.normalize(image, dim=-1), F.normalize(text, dim=-1), scale)
    torch.testing.assert_close(C.contrastive_loss(image, text, scale), expected)


def test_contrastive_loss_is_the_symmetric_cross_entropy_of_figure_3():
    torch.manual_seed(0)
    image, text = torch.randn(4, 8), torch.randn(4, 8)
    logits = 10.0 * F.normalize(image, dim=-1) @ F.normalize(text, dim=-1).t()
    by_hand = -(logits.log_softmax(1).diagonal().mean() + logits.log_softmax(0).diagonal().mean()) / 2
    loss = C.contrastive_loss(image, text, torch.tensor(10.0))
    torch.testing.assert_close(loss, by_hand)
    torch.testing.assert_close(C.contrastive_loss(text, image, torch.tensor(10.0)), loss)  # symmetric
    aligned = C.contrastive_loss(torch.eye(4), torch.eye(4), torch.tensor(100.0))
    assert aligned < 1e-6 and loss > aligned


def test_temperature_starts_at_0_07_and_logits_are_never_scaled_beyond_100():
    model = C.build_model(MINI)
    assert model.logit_scale.exp().item() == pytest.approx(1 / 0.07)
    model.logit_scale.data.fill_(math.log(1000.0))
    images, text = torch.rand(2, 3, 16, 16), tokenizer_for(MINI, S.MINI_WORDS)(["a red circle"] * 2, 10)
    _, _, scale = model(images, text)
    assert scale.item() == pytest.approx(100.0)


# --- tokenisers ----------------------------------------------------------------------------------
def test_bpe_tokenizer_uses_the_vocabulary_file_inside_open_clip():
    tokens = bpe_tokenizer()(["a photo of a cat."], 77)
    assert tokens.shape == (1, 77)
    assert tokens[0, 0] == 49406 and tokens.max() == 49407 < C.PRESETS["paper"].vocab_size
    torch.testing.assert_close(tokens, open_clip.tokenize(["a photo of a cat."]))


def test_word_tokenizer_marks_unknown_words_and_puts_eot_last():
    tok = WordTokenizer(S.MINI_WORDS)
    ids = tok(["A photo of a RED circle."], 10)[0].tolist()
    eot = tok.vocab_size - 1
    assert ids[:7] == [2, tok.ids["a"], 1, tok.ids["of"], tok.ids["a"], tok.ids["red"], tok.ids["circle"]]
    assert ids[7] == eot and ids[8:] == [0, 0] and max(ids) == eot
    long = tok(["a " * 20], 10)[0].tolist()
    assert long[-1] == eot and 0 not in long  # truncated, still ends with <eot>
    assert tok.vocab_size == MINI.vocab_size


# --- zero-shot -------------------------------------------------------------------------------
def test_zero_shot_classifier_ensembles_prompts_as_open_clip_does():
    torch.manual_seed(0)
    reference = _open_clip_like(MINI)
    ours = _ours_from(reference, MINI)
    tok = tokenizer_for(MINI, S.MINI_WORDS)
    expected = open_clip.zero_shot_classifier.build_zero_shot_classifier(
        reference, lambda texts: tok(texts, MINI.context_length), S.CLASSES, C.ZERO_SHOT_TEMPLATES)
    got = C.zero_shot_classifier(ours, S.CLASSES, C.ZERO_SHOT_TEMPLATES, tok)
    torch.testing.assert_close(got, expected)
    assert got.shape == (MINI.embed_dim, 20)
    torch.testing.assert_close(got.norm(dim=0), torch.ones(20))
    single = C.zero_shot_classifier(ours, S.CLASSES[:1], C.ZERO_SHOT_TEMPLATES[:1], tok)
    alone = F.normalize(ours.encode_text(tok([C.ZERO_SHOT_TEMPLATES[0].format(S.CLASSES[0])], 10)), dim=-1)
    torch.testing.assert_close(single[:, 0], alone[0])


def test_zero_shot_predict_picks_the_most_similar_prompt():
    model = C.build_model(MINI).eval()
    images = torch.rand(6, 3, 16, 16)
    feats = F.normalize(model.encode_image(images), dim=-1).detach()
    classifier = feats[[2, 0, 1]].t()  # class k's prompt embedding = image [2, 0, 1][k]'s
    assert C.zero_shot_predict(model, images[:3], classifier).tolist() == [1, 2, 0]


# --- data ------------------------------------------------------------------------------------------
def test_training_pairs_never_show_the_unseen_combinations():
    cfg = dataclasses.replace(MINI, n_train=500, n_eval_per_class=3)
    images, labels, captions = S.training_pairs(cfg, torch.Generator().manual_seed(0))
    unseen = [S.CLASSES[k] for k in S.UNSEEN]
    assert unseen == ["red circle", "red square", "green circle", "green square"]
    assert not set(labels.tolist()) & set(S.UNSEEN) and len(set(labels.tolist())) == 16
    for k, caption in zip(labels.tolist(), captions):
        assert set(S.CLASSES[k].split()) <= set(caption.split()), caption
        assert not any(set(name.split()) <= set(caption.split()) for name in unseen), caption
    used = {t for k, caption in zip(labels.tolist(), captions) for t in S.TRAIN_TEMPLATES
            if t.format(c=S.CLASSES[k].split()[0], s=S.CLASSES[k].split()[1]) == caption}
    assert used == set(S.TRAIN_TEMPLATES)
    loader, held_out = C.build_data(cfg)
    assert held_out["unseen"][1].unique().tolist() == S.UNSEEN
    assert not set(held_out["seen"][1].tolist()) & set(S.UNSEEN)
    images, tokens = next(iter(loader))
    assert images.shape == (MINI.batch_size, 3, 16, 16) and tokens.shape == (MINI.batch_size, 10)
    assert 0 <= images.min() and images.max() <= 1


def test_shapes_are_drawn_in_their_class_colour():
    labels = torch.arange(20)
    images = S.draw_shapes(labels, 16, torch.Generator().manual_seed(0))
    for k, image in zip(labels.tolist(), images):
        colour = torch.tensor(S.COLOURS[S.CLASSES[k].split()[0]])
        distance = (image.reshape(3, -1) - colour[:, None]).norm(dim=0)
        assert (distance < 0.2).sum() >= 8, S.CLASSES[k]  # enough pixels of the class colour


def test_shuffled_control_keeps_the_captions_but_breaks_the_pairs():
    cfg = dataclasses.replace(MINI, n_train=400)
    (x1, t1), (x2, t2) = (next(iter(C.build_data(c)[0])) for c in
                          (cfg, dataclasses.replace(cfg, shuffle_captions=True)))
    torch.testing.assert_close(x1, x2)  # the same images in the same order
    assert not torch.equal(t1, t2)
    full = lambda c: C.build_data(c)[0].dataset.tensors[1]  # noqa: E731
    assert sorted(map(tuple, full(cfg).tolist())) == \
        sorted(map(tuple, full(dataclasses.replace(cfg, shuffle_captions=True)).tolist()))


def test_unseen_classes_differ_only_in_their_combination_of_seen_colours_and_shapes():
    colour_shape = [S.CLASSES[k].split() for k in S.UNSEEN]
    for i, (colour, shape) in enumerate(colour_shape):
        others = colour_shape[:i] + colour_shape[i + 1:]
        assert [c for c, _ in others].count(colour) == 1 and [s for _, s in others].count(shape) == 1
    seen = [S.CLASSES[k].split() for k in range(20) if k not in S.UNSEEN]
    assert {c for c, _ in colour_shape} <= {c for c, _ in seen}
    assert {s for _, s in colour_shape} <= {s for _, s in seen}


def test_probe_shots_are_new_images_of_the_unseen_classes():
    held_out = S.held_out_images(3, 16, seed=0)
    (shots, shot_y), (test, test_y) = held_out["shots"], held_out["unseen"]
    assert shot_y.tolist() == [k for k in S.UNSEEN for _ in range(S.PROBE_SHOTS)]
    assert test_y.tolist() == [k for k in S.UNSEEN for _ in range(3)]
    assert torch.cdist(shots.flatten(1), test.flatten(1)).min() > 0  # no test image is a shot


def test_object_mask_finds_the_shape_and_attribute_features_drop_its_colour():
    labels = torch.tensor([0, 10])  # a red circle, a blue circle
    images = S.draw_shapes(labels, 16, torch.Generator().manual_seed(0))
    mask = S.object_mask(images)
    assert 10 <= mask[0].sum() < 16 * 16
    features = C.attribute_features(images)
    torch.testing.assert_close(features["colour"][0], torch.tensor(S.COLOURS["red"]), atol=0.06, rtol=0)
    torch.testing.assert_close(features["colour"][1], torch.tensor(S.COLOURS["blue"]), atol=0.06, rtol=0)
    assert set(features["shape"].unique().tolist()) <= {0.0, 1.0}


# --- baselines and the linear probe ---------------------------------------------------------------
def test_an_attribute_only_predictor_splits_its_ties_evenly():
    candidates = S.UNSEEN  # red circle, red square, green circle, green square
    red = torch.tensor([[0.9, 0.9, 0.1, 0.1]])  # sure of red, blind to the shape
    assert C._tie_split_accuracy(red, candidates, torch.tensor([0])) == pytest.approx(0.5)
    assert C._tie_split_accuracy(red, candidates, torch.tensor([5])) == 0.0
    sure = torch.tensor([[0.1, 0.9, 0.2, 0.3]])
    assert C._tie_split_accuracy(sure, candidates, torch.tensor([1])) == 1.0


def test_colour_alone_is_right_at_most_half_the_time_on_the_unseen_test():
    out = C.baselines(dataclasses.replace(MINI, n_eval_per_class=20))
    assert set(out) == {"colour only", "shape only", "colour x shape"}
    assert out["colour only"]["unseen_4way"] == pytest.approx(0.5)  # its colour reading is perfect
    assert 0.35 < out["shape only"]["unseen_4way"] <= 0.5
    assert out["colour only"]["zero_shot_accuracy"] == pytest.approx(0.2)  # 5 shapes per colour
    assert out["colour x shape"]["unseen_4way"] > 0.8  # composed attribute classifiers do name them


def test_linear_probe_learns_from_k_shots_per_class():
    gen = torch.Generator().manual_seed(0)
    centres = 3 * torch.eye(4)  # four well-separated classes in a 4-d feature space
    y = torch.arange(4).repeat_interleave(16)
    shots = (centres[y] + 0.1 * torch.randn(64, 4, generator=gen), y)
    test = (centres[y] + 0.1 * torch.randn(64, 4, generator=gen), y)
    assert C.linear_probe_accuracy(shots, test, k=1, draws=3, seed=0) == 1.0
    noise = (torch.randn(64, 4, generator=gen), y)  # features that carry no class
    assert C.linear_probe_accuracy(noise, test, k=4, draws=3, seed=0) < 0.6


def test_evaluate_reports_zero_shot_and_probes_on_the_same_split():
    cfg = C.PRESETS["tiny"]
    torch.manual_seed(0)
    metrics = C.evaluate(C.build_model(cfg), S.held_out_for(cfg), cfg)
    assert {f"probe_{k}shot" for k in C.PROBE_K} <= set(metrics)
    probes = {k: metrics[f"probe_{k}shot"] for k in C.PROBE_K}
    assert metrics["zero_shot_matches_k"] == C.shots_matched(metrics["unseen_4way"], probes)


def test_zero_shot_matches_the_probes_up_to_the_first_that_beats_it():
    probes = {1: 0.6, 2: 0.7, 4: 0.65, 8: 0.9}
    assert C.shots_matched(0.68, probes) == 1  # the 2-shot probe beats it; 4-shot does not count
    assert C.shots_matched(0.5, probes) == 0
    assert C.shots_matched(0.95, probes) == 8


# --- claims ------------------------------------------------------------------------------------------
def _metrics(**main):
    return {"main": {"zero_shot_accuracy": 0.85, "zero_shot_single_prompt": 0.84, "unseen_4way": 0.9,
                     "unseen_20way": 0.1, "zero_shot_matches_k": 4.0,
                     **{f"probe_{k}shot": 0.6 + 0.05 * i for i, k in enumerate(C.PROBE_K)}, **main},
            "shuffled": {"zero_shot_accuracy": 0.04},
            "colour only": {"zero_shot_accuracy": 0.2, "unseen_4way": 0.5},
            "shape only": {"zero_shot_accuracy": 0.25, "unseen_4way": 0.45},
            "colour x shape": {"zero_shot_accuracy": 0.9, "unseen_4way": 0.95}}


def test_claims_compare_zero_shot_with_attribute_only_baselines_the_probe_and_the_control():
    rows = {c.id: c for c in C.CLAIMS}
    m = _metrics()
    assert rows["zero-shot"].margins(m) == pytest.approx({"colour only": 0.85 - 0.2 - 0.4,
                                                          "shape only": 0.85 - 0.25 - 0.4})
    assert rows["unseen-combinations"].margins(m) == pytest.approx({"colour only": 0.9 - 0.5 - 0.1,
                                                                    "shape only": 0.9 - 0.45 - 0.1})
    assert rows["zero-shot-vs-few-shot"].margins(m) == pytest.approx({"1-shot linear probe": 0.9 - 0.6})
    assert rows["language-supervision"].margins(m) == pytest.approx({"shuffled": 0.85 - 0.04 - 0.5})
    assert "matches the probes up to 4-shot" in rows["zero-shot-vs-few-shot"].measured(m)
    assert "matches no probe" in rows["zero-shot-vs-few-shot"].measured(_metrics(zero_shot_matches_k=0.0))
    # zero-shot at colour-only's level on the unseen test fails the claim
    assert min(rows["unseen-combinations"].margins(_metrics(unseen_4way=0.6)).values()) < 0
    assert min(rows["zero-shot-vs-few-shot"].margins(_metrics(unseen_4way=0.55)).values()) < 0


def test_paper_scale_claims_say_what_they_would_need_and_have_no_margins():
    for claim in C.CLAIMS:
        assert (claim.margins is None) == bool(claim.needs), claim.id
    assert {c.id for c in C.CLAIMS if c.needs} == {"imagenet-zero-shot", "prompt-ensembling", "parameters"}


def test_paper_preset_data_refuses_what_would_not_fit_with_an_actionable_message():
    with pytest.raises(ConfigError, match=r"need 12\.0 GB; lower n_train"):
        C.build_data(C.PRESETS["paper"])
    with pytest.raises(ConfigError, match="batch_size 32768 exceeds n_train 2000"):
        C.build_data(dataclasses.replace(C.PRESETS["paper"], n_train=2000))


@pytest.mark.slow
def test_mini_claims_hold_for_at_least_4_of_5_seeds(tmp_path):
    """The issue's bar: each claim expected to hold holds for >= 4 of 5 seeds (figures in
    BENCHMARKS.md)."""
    held: dict[str, int] = {}
    for seed in range(5):
        cfg = dataclasses.replace(MINI, seed=seed)
        result = run(C, cfg, "mini", tmp_path / f"seed{seed}", name="clip")
        for row in result["claims"]:
            if row["expected"] and row["measured"]:
                held[row["id"]] = held.get(row["id"], 0) + (row["verdict"] == REPRODUCED)
    assert held and all(n >= 4 for n in held.values()), held
