"""VirTex / ICMLM / ConVIRT (reproductions.captions_pretrain): the ResNet-50 trunk against
torchvision's, the paper presets' parts against the reference counts, and each objective's
mechanism (bicaptioning's reversed captions, ICMLM's concept masking, ConVIRT's Eq. 2-4)."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from reproductions import captions_pretrain as cp
from reproductions import gpt
from reproductions.clip import contrastive_loss
from reproductions.common.trainer import seed_everything

RESNET50_TRUNK = 23_508_032  # torchvision resnet50 (25,557,032) without its fc (2,049,000)


@pytest.fixture(autouse=True)
def one_thread():
    """Small tensors: one thread is faster than two that wait on each other on a busy machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def count(module) -> int:
    return sum(p.numel() for p in module.parameters())


def tiny(objective: str) -> tuple[cp.CaptionPretrainer, cp.Config]:
    cfg = dataclasses.replace(cp.PRESETS["tiny"], objective=objective)
    seed_everything(0)
    return cp.build_model(cfg), cfg


def test_resnet50_trunk_matches_torchvision_outputs_with_its_weights():
    torchvision = pytest.importorskip("torchvision")
    with torch.device("meta"):  # no init cost: random tensors are drawn once, below
        ref = torchvision.models.resnet50(weights=None).eval()
        ours = cp.VisualBackbone(cp.PRESETS["paper"]).eval()
    ref = ref.to_empty(device="cpu")
    torch.manual_seed(0)
    with torch.no_grad():
        for name, t in ref.state_dict().items():
            if name.endswith("running_var"):
                t.uniform_(0.5, 1.5)
            elif t.is_floating_point():  # std 1/sqrt(fan-in): activations stay O(1)
                bound = (3 / (t[0].numel() if t.dim() > 1 else 16)) ** 0.5
                t.uniform_(-bound, bound)
            else:
                t.zero_()
    state = {k: v for k, v in ref.state_dict().items() if not k.startswith("fc.")}
    ours.trunk.load_state_dict(state, assign=True)
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        expected = torch.nn.Sequential(*list(ref.children())[:-2])(x)  # (1, 2048, 1, 1)
        assert expected.isfinite().all() and expected.abs().max() > 1e-3
        assert torch.allclose(ours(x), expected, rtol=1e-5, atol=1e-5 * expected.abs().max())
    assert count(ours) == RESNET50_TRUNK


@pytest.mark.parametrize("preset", ["paper", "paper-icmlm", "paper-convirt"])
def test_paper_presets_share_the_resnet50_trunk(preset):
    with torch.device("meta"):
        model = cp.build_model(cp.PRESETS[preset])
    assert count(model.visual) == RESNET50_TRUNK
    assert model.visual.out_channels == 2048


def test_virtex_head_is_two_one_layer_decoders_of_width_2048():
    with torch.device("meta"):
        head = cp.build_model(cp.PRESETS["paper"]).head
    h, v = 2048, 10000
    per_layer = 16 * h * h + 19 * h  # self- and cross-attention, 4H feed-forward, 3 LayerNorms
    assert len(head.forward_layers) == len(head.backward_layers) == 1
    assert count(head.forward_layers) == count(head.backward_layers) == per_layer
    embedding = v * h + 30 * h + 2 * h  # words, positions, LayerNorm; the output is tied
    assert count(head) == 2 * per_layer + embedding + (2048 * h + h) + v


def test_convirt_text_encoder_is_reproductions_bert_base_without_its_heads():
    with torch.device("meta"):
        head = cp.build_model(cp.PRESETS["paper-convirt"]).head
        bert = gpt.GPT(dataclasses.replace(gpt.PRESETS["paper-bert"], vocab_size=28996, next_sentence=False))
    d = 768
    heads = count(bert.pooler) + count(bert.mlm_transform) + bert.mlm_bias.numel()
    assert count(head.text) == count(bert) - heads
    assert count(head.g_v) == 2048 * 2048 + 2048 + 2048 * 512 + 512
    assert count(head.g_u) == d * d + d + d * 512 + 512


def test_icmlm_head_reads_bert_states_and_the_projected_grid():
    with torch.device("meta"):
        head = cp.build_model(cp.PRESETS["paper-icmlm"]).head
        bert = gpt.GPT(dataclasses.replace(gpt.PRESETS["paper-bert"], next_sentence=False))
    assert count(head.text) == count(bert)  # BERT-base with its masked-LM head (tied output)
    assert head.visual_pos.shape == (49, 768)  # the 7x7 grid of a 224 x 224 image


def test_reverse_captions_reverses_each_caption_and_keeps_padding():
    tokens = torch.tensor([[2, 5, 6, 9, 0], [2, 7, 9, 0, 0]])
    assert cp.reverse_captions(tokens).tolist() == [[9, 6, 5, 2, 0], [9, 7, 2, 0, 0]]


def test_bicaptioning_is_causal_later_words_do_not_change_earlier_predictions():
    model, _ = tiny("bicaptioning")
    model.eval()
    head, grid = model.head, model.visual(torch.rand(1, 3, 16, 16))
    memory = head.visual_projection(grid.flatten(2).transpose(1, 2))
    a, b = torch.tensor([[2, 5, 6, 7, 8]]), torch.tensor([[2, 5, 6, 11, 12]])
    outs = []
    for tokens in (a, b):
        x = head.embedding(tokens)
        for layer in head.forward_layers:
            x = layer(x, memory, None)
        outs.append(x)
    assert torch.allclose(outs[0][:, :3], outs[1][:, :3], atol=1e-6)
    assert not torch.allclose(outs[0][:, 3:], outs[1][:, 3:])


def test_icmlm_masks_the_colour_and_the_shape_word_of_every_caption():
    model, cfg = tiny("mlm")
    loader, _ = cp.build_data(cfg)
    _, tokens = next(iter(loader))
    masked, targets = cp.mask_concepts(model, tokens)
    assert ((masked == cfg.mask_token).sum(1) == 2).all()
    picked = targets != -100
    assert (picked == (masked == cfg.mask_token)).all()
    assert torch.isin(targets[picked], model.concepts).all()
    assert torch.equal(masked[~picked], tokens[~picked])


def test_icmlm_paper_preset_masks_one_word_per_caption():
    model, cfg = tiny("mlm")
    model.concepts = torch.tensor([], dtype=torch.long)  # the paper presets have no concept list
    tokens = torch.tensor([[2, 5, 6, 7, 22, 0], [2, 8, 22, 0, 0, 0]])  # <eot> = 22, [MASK] = 23
    masked, targets = cp.mask_concepts(model, tokens)
    assert ((masked == cfg.mask_token).sum(1) == 1).all()
    assert (targets[targets != -100] > 2).all() and (targets != 22).all()


def test_convirt_loss_weights_the_two_directions_by_lambda():
    v, u = torch.randn(6, 8), torch.randn(6, 8)
    sim = F.normalize(v, dim=-1) @ F.normalize(u, dim=-1).t() / 0.1
    labels = torch.arange(6)
    expected = 0.75 * F.cross_entropy(sim, labels) + 0.25 * F.cross_entropy(sim.t(), labels)
    assert torch.allclose(cp.convirt_loss(v, u, 0.1, 0.75), expected)
    # lambda = 0.5 is CLIP's symmetric loss (Fig. 3) with a fixed scale 1 / tau
    assert torch.allclose(cp.convirt_loss(v, u, 0.1, 0.5), contrastive_loss(v, u, 10.0))


@pytest.mark.parametrize("objective", ["mlm", "contrastive", "supervised"])
def test_every_objective_trains_every_parameter_of_its_model(objective):
    model, cfg = tiny(objective)
    batch = next(iter(cp.build_data(cfg)[0]))
    out = cp.training_step(model, batch)
    out["loss"].backward()
    assert torch.isfinite(out["loss"])
    assert not [n for n, p in model.named_parameters() if p.grad is None]


def test_mini_compares_the_three_objectives_with_the_controls_in_one_run():
    runs = cp.variants(cp.PRESETS["mini"])
    assert {n: c.objective for n, c in runs.items()} == {
        "virtex": "bicaptioning", "icmlm": "mlm", "convirt": "contrastive",
        "scratch": "supervised", "random": "none"}
    assert runs["random"].steps == 0
    assert cp.PRESETS["mini-icmlm"] == cp.PRESETS["mini-convirt"] == cp.PRESETS["mini"]


def test_probe_split_shares_the_labelled_shots_with_the_scratch_control():
    cfg = cp.PRESETS["tiny"]
    scratch = dataclasses.replace(cfg, objective="supervised")
    loader, labelled = cp.build_data(scratch)
    x, y = loader.dataset.tensors
    assert torch.equal(x, labelled["shots"][0]) and torch.equal(y, labelled["shots"][1])
    assert torch.bincount(y).tolist() == [cfg.shots] * 5
