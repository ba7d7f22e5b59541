"""One suite over the whole registry (timm-style): every reproduction module gets these checks.

A new module is covered as soon as it is registered in `reproductions.REPRODUCTIONS`; add its
paper-scale parameter counts to `PARAM_COUNTS` below.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Literal

import pytest
import torch

from reproductions import REPRODUCTIONS, get
from reproductions.cli import main as repro_main
from reproductions.common.claims import NOT_APPLICABLE, Claim
from reproductions.common.config import (
    ConfigError,
    apply_overrides,
    config_from_dict,
    config_to_dict,
    describe,
)
from reproductions.common.runner import run, variants_of
from reproductions.common.trainer import _optimizers, _params, seed_everything

NAMES = sorted(REPRODUCTIONS)

# (module, preset) -> parameters of the paper-scale network, checked against the paper's tables
# and the reference implementations (see ../shared/docs/REPRODUCTION_NOTES.md).
PARAM_COUNTS = {
    ("alexnet", "paper"): 60_965_224,  # the two-GPU network of Fig. 2 (paper: "60 million")
    ("alexnet", "torchvision"): 61_100_840,  # torchvision.models.alexnet
    ("resnet", "paper"): 25_557_032,  # ResNet-50 = timm/torchvision resnet50
    ("resnet", "resnet18"): 11_689_512,
    ("resnet", "resnet34"): 21_797_672,
    ("resnet", "resnet50"): 25_557_032,
    ("resnet", "resnet101"): 44_549_160,
    ("resnet", "resnet152"): 60_192_808,
    ("resnet", "resnet20"): 269_722,  # Table 6: 0.27M
    ("resnet", "resnet56"): 853_018,  # Table 6: 0.85M
    ("resnet", "resnet110"): 1_727_962,  # Table 6: 1.7M
    ("vit", "paper"): 86_567_656,  # ViT-B/16 = timm vit_base_patch16_224
    ("vit", "vit-l16"): 304_326_632,
    ("vit", "vit-h14"): 632_045_800,  # torchvision vit_h_14 with its 1000-class head
    ("ssd", "paper"): 26_285_486,  # SSD300, VOC = torchvision ssd300_vgg16(num_classes=21)
    ("ganomaly", "paper"): 3_861_632,  # authors' nets, MNIST: G 3,200,384 + D 661,248
    ("ganomaly", "cifar10"): 3_869_824,  # 3 channels: G 3,206,528 + D 663,296
    ("transformer", "paper"): 63_121_544,  # base, shared 37,000 vocabulary (paper: 65M)
    ("transformer", "big"): 214_286_472,  # big (paper: 213M)
    ("clip", "paper"): 151_277_313,  # ViT-B/32 = OpenAI's release = open_clip "ViT-B-32"
    ("init", "paper"): 79_192_296,  # He et al. Fig. 3: 30 layers, ReLU (Table 1 + Sec. 2.3)
    ("init", "table1"): 75_004_200,  # He et al. Table 1: 14 layers, PReLU (counted)
    ("init", "model-a"): 178_032_072,  # He et al. Table 3 model A, PReLU (not printed in the paper)
    ("init", "paper-xavier"): 4_799_010,  # Glorot & Bengio: 784-1000x5-10 tanh MLP
    ("highway", "paper"): 289_660,  # Sec. 3.1: 784-50, 49 highway layers of 50, softmax
    ("highway", "paper-plain"): 306_943,  # Sec. 3.1: plain, 71 units ("~5000" per layer)
    ("shattered", "paper"): 2_031_001,  # Fig. 1: 50-module resnet, 200 wide (no count printed)
    ("shattered", "feedforward24"): 975_401,  # Fig. 1: 24-layer feedforward net, 200 wide
    ("landscape", "paper"): 853_018,  # ResNet-56 (CIFAR-10) = resnet's resnet56, Table 6: 0.85M
    ("landscape", "paper-noshort"): 853_018,  # ResNet-56-noshort: option A shortcuts are free
    ("adam", "paper"): 1_796_010,  # Sec. 6.2 / Fig. 2: 784-1000-1000-10 ReLU MLP on MNIST
    ("dropout", "paper"): 2_913_290,  # Srivastava et al. Table 2: 784-1024-1024-1024-10
    ("dropout", "paper-2012"): 1_276_810,  # Hinton et al. 2012 Fig. 1: 784-800-800-10
    ("batchnorm", "paper"): 11_285_224,  # BN-Inception, Fig. 5 widths, no conv bias (paper: 13.6M)
    ("norms", "paper"): 25_557_032,  # ResNet-50 with GN (32 groups) = ResNet-50's count
    ("norms", "paper-ln"): 1_800_010,  # Ba et al. Fig. 6: 784-1000-1000-10 MLP with LN
    ("lenet", "paper"): 60_000,  # LeNet-5, Sec. II-B: "60,000 trainable parameters"
    ("lenet", "paper-1989"): 9_760,  # 1989 zip code net: "9760 independent parameters"
    ("overfeat", "paper"): 145_920_872,  # the fast model, Table 1 (Table 3: 145M)
    ("vgg", "paper"): 138_357_544,  # D = VGG-16 = torchvision vgg16 (Table 2: 138M)
    ("vgg", "vgg11"): 132_863_336,  # A (Table 2: 133M)
    ("vgg", "vgg13"): 133_047_848,  # B (133M)
    ("vgg", "vgg13-1x1"): 133_638_952,  # C (134M)
    ("vgg", "vgg19"): 143_667_240,  # E (144M)
    ("vgg", "vgg16-bn"): 138_365_992,  # torchvision vgg16_bn
    ("googlenet", "paper"): 13_378_280,  # Table 1 + the two auxiliary classifiers of Sec. 5
    ("googlenet", "paper-no-aux"): 6_998_552,  # Table 1 (its column sums to ~6.8M)
    ("googlenet", "torchvision"): 13_004_888,  # torchvision googlenet(aux_logits=True)
    ("googlenet", "torchvision-no-aux"): 6_624_904,  # torchvision googlenet(aux_logits=False)
    ("densenet", "paper"): 7_978_856,  # DenseNet-121 = torchvision densenet121 (Table 1)
    ("densenet", "densenet169"): 14_149_480,  # = torchvision densenet169
    ("densenet", "densenet201"): 20_013_928,  # = torchvision densenet201
    ("densenet", "densenet161"): 28_681_000,  # k=48 = torchvision densenet161
    ("densenet", "cifar-bc100"): 769_162,  # DenseNet-BC L=100, k=12, C10 (Table 2: 0.8M)
    ("resnext", "paper"): 25_028_904,  # ResNeXt-50 32x4d = torchvision resnext50_32x4d (Table 1: 25.0M)
    ("resnext", "resnext101-32x4d"): 44_177_704,  # = torchvision layout, 3-4-23-3 (Table 3: 7.8 GFLOPs)
    ("resnext", "resnet50-1x64d"): 25_557_032,  # Table 3's ResNet-50 = torchvision resnet50
    ("relu", "paper"): 8_198_048,  # NORB RBM, Sec. 4.1: 2048 x 4000 weights + 2048 + 4000 biases
    ("resnet", "paper-preact"): 10_327_706,  # identity-mappings ResNet-1001 (Table 5: 10.2M; 10.18M without BN)
    ("resnet", "resnet164-preact"): 1_703_258,  # identity-mappings ResNet-164 (Table 5: 1.7M)
    ("zfnet", "paper"): 62_357_608,  # Fig. 3 (the paper gives no total; computed)
    ("nin", "paper"): 966_986,  # authors' Caffe CIFAR-10 NIN (the paper gives no widths; computed)
    ("gcn", "paper"): 23_040,  # Kipf & Welling Eq. 9 on Cora: 1433x16 + 16x7, no biases
    ("gcn", "paper-gat"): 92_302,  # GAT Sec. 3.3 on Cora: 8 heads x (1433x8 + 2x8) + 64x7 + 2x7
    ("fcn", "paper"): 134_489_759,  # FCN-8s VGG-16 as the authors' Caffe model (Table 1: 134M)
    ("fcn", "paper-16s"): 134_815_994,  # FCN-16s (its fixed upsampler is 32x32)
    ("fcn", "paper-32s"): 136_152_917,  # FCN-32s (its fixed upsampler is 64x64)
    ("swin", "paper"): 28_288_354,  # Swin-T = timm swin_tiny_patch4_window7_224 (Table 1: 28M)
    ("gan", "paper"): 3_735_425,  # authors' mnist.yaml: G 100-1200-1200-784, D maxout 240x5 x2
    ("autoencoder", "paper"): 2_837_314,  # Hinton Fig. 2: 784-1000-500-250-30 and its mirror
    ("autoencoder", "paper-vae"): 815_824,  # Kingma Sec. 5: 500 tanh units, 20 latents
    ("word2vec", "paper"): 600_000_000,  # skip-gram, d=300, 1M words (2013a Sec. 4.2): 2 V d
    ("word2vec", "paper-phrases"): 415_200_000,  # 2013b Sec. 3: 692K words, d=300: 2 V d
    ("word2vec", "paper-glove"): 240_800_000,  # GloVe Sec. 4.2: 400,000 words: 2 V (d + 1)
    ("seq2seq", "paper"): 384_144_000,  # Sutskever et al. Sec. 3.4: "384M parameters" (4x1000 LSTMs, 160k/80k words)
    ("lstm", "paper"): 93,  # Exp. 4 (Sec. 5.4): 2 blocks of 2 cells, 8 x 11 + 5 weights
    ("nplm", "paper"): 5_762_483,  # Bengio et al. 2003 Brown MLP1 (Table 1: n=5, h=50, m=60, direct), |V|=16,383, Sec. 2's formula
    ("unet", "paper"): 31_030_658,  # Fig. 1, 2 classes (paper: no count printed; ~31M)
    ("deepwalk", "paper"): 2_639_872,  # BlogCatalog 10,312 nodes x d=128 (Sec. 6), Phi + output vectors
    ("gpt", "paper"): 116_534_784,  # GPT-1 = HF openai-gpt (GPT-2 paper Table 2: 117M)
    ("gpt", "paper-bert"): 110_106_428,  # BERT-base + MLM/NSP heads = HF BertForPreTraining (110M)
    ("gpt", "paper-gpt2"): 124_439_808,  # GPT-2 small = HF gpt2 (Table 2 prints 117M)
    ("gpt", "paper-gpt2-xl"): 1_557_611_200,  # GPT-2 1.5B = HF gpt2-xl (Table 2: 1542M)
    ("gpt", "paper-gpt3"): 174_604_259_328,  # GPT-3 175B (Table 2.1: 175.0B), counted
    ("textrank", "paper"): 0,  # Mihalcea & Tarau Sec. 2: PageRank on the text graph learns nothing
    ("elmo", "paper"): 93_666_400,  # Sec. 3.4 biLM; AllenNLP 93,600,864 ("93.6M") + torch's 2nd LSTM bias (65,536)
    ("style", "paper"): 20_810_816,  # torchvision vgg19().features 20,024,384 + 3x512x512 image
    ("style", "paper-johnson"): 9_314_499,  # computed: net 1,679,235 + VGG-16 to relu4_3 7,635,264
    ("style", "paper-in"): 9_314_499,  # computed: Johnson's net with affine instance norm
    ("style", "paper-adain"): 7_010_947,  # computed: VGG-19 to relu4_1 3,505,728 + decoder 3,505,219
    ("siamese", "paper"): 3_004,  # Bromley et al.'s TDNN half (8x200 -> 12x64 -> 16x19), computed
    ("siamese", "paper-facenet"): 140_025_664,  # FaceNet NN1: Table 1's 140,006,592 weights + biases
    ("tsne", "paper"): 10_000,  # the map: 5,000 points x 2 coordinates (t-SNE has no network)
    ("retinanet", "paper"): 37_968_692,  # torchvision retinanet_resnet50_fpn(num_classes=80) + P6 on C5 (Sec. 4)
    ("retinanet", "torchvision"): 33_839_924,  # = torchvision retinanet_resnet50_fpn(num_classes=80)
    ("retinanet", "paper-fpn"): 26_852_416,  # = torchvision resnet_fpn_backbone("resnet50"), BatchNorm2d
    ("yolo", "paper"): 271_703_550,  # Fig. 3: 24 convs + 2 fc, 7x7x30 (counted; no reference)
    ("rcnn", "paper"): 57_687_524,  # R-CNN: AlexNet conv1-fc7 + 20 fc7 SVMs + pool5 box regression (counted)
    ("rcnn", "paper-spp"): 74_046_692,  # SPPnet ZF-5 (Table 1) + 50-bin pyramid, fc6/fc7, SVMs, box regression (counted)
    ("rcnn", "paper-fast"): 134_690_729,  # Fast R-CNN VGG16 = torchvision vgg16 conv+fc6/fc7 + FastRCNNPredictor(4096, 21)
    ("rcnn", "paper-faster"): 137_078_239,  # + RPN: torchvision RPNHead(512, 9) with 2k scores (Sec. 3.1)
    ("t5", "paper"): 222_903_552,  # T5-Base, Sec. 3.1.1: "roughly 220 million"
    ("unit", "paper"): 208_109_098,  # UniT, Sec. 3: R50 + BERT-base + 6x768 decoder, 8 heads (computed)
    ("simclr", "paper"): 27_966_656,  # ResNet-50 (fc removed) + 2048-2048-128 head (Sec. 2.1; no total printed)
    ("simclr", "paper-moco"): 47_540_608,  # MoCo v1: 2 x (ResNet-50 + 128-d fc), query + key encoders
    ("deeplab", "paper"): 39_048_533,  # DeepLabv3 ResNet-50, Sec. 3.3 head (computed)
    ("deeplab", "torchvision"): 39_638_869,  # = torchvision deeplabv3_resnet50(aux_loss=False)
    ("deeplab", "paper-v1"): 20_505_429,  # DeepLab-LargeFOV, v1 Table 2: 20.5M
    ("deformable", "paper"): 44_798_046,  # ResNet-101, res5a-c deformable (computed)
    ("hourglass", "paper"): 25_434_112,  # 8 stacks, 256 features, MPII's 16 joints (computed)
    ("depth_anything", "paper"): 24_784_705,  # Depth-Anything-Small (paper: 24.8M), timm ViT-S/14
    ("mask_rcnn", "paper"): 44_454_513,  # = torchvision maskrcnn_resnet50_fpn(num_classes=91), BatchNorm2d
    ("cornernet", "paper"): 201_035_212,  # CornerNet-Hourglass-104, Sec. 4.1: 201M
    ("cornernet", "paper-centripetal"): 203_397_588,  # + centripetal shifts (computed)
    ("captions_pretrain", "paper"): 182_555_472,  # VirTex R-50 L1 H2048: torchvision resnet50 trunk 23,508,032 + bicaptioning head (test_captions_pretrain)
    ("captions_pretrain", "paper-icmlm"): 142_312_058,  # ICMLM tfm: resnet50 trunk + BERT-base (gpt.py, MLM head) 110,104,890 + projection and 1 tfm layer
    ("captions_pretrain", "paper-convirt"): 137_457_472,  # ConVIRT: resnet50 trunk + BERT-base cased 107,719,680 + g_v, g_u to 512
    ("fairmot", "paper"): 21_659_166,  # DLA-34 + DLA-up + 4 heads + 14,455-ID classifier (counted)
    ("latent_diffusion", "paper"): 329_378_945,  # LDM-4: U-Net 274,056,163 (Table 12: 274M) + VQ-f4
    ("mae", "paper"): 329_541_888,  # ViT-L/16 = timm (no head) 303,301,632 + 8x512 decoder (computed)
    ("stylegan", "paper"): 49_306_876,  # G 26,219,627 (Sec. 2: 26.2M) + Progressive GAN's D 23,087,249
    ("stylegan", "paper-traditional"): 46_166_364,  # G 23,079,115 (Sec. 2: 23.1M) + the same D
    ("dcgan", "paper"): 23_694_592,  # Fig. 1: G 12,658,432 (100 -> 1024x4x4 ... 3x64x64) + D mirrored 11,036,160
    ("anogan", "paper"): 6_338_176,  # DCGAN reference widths (ngf = ndf = 64) on 64x64x1: G 3,574,656 + D 2,763,520
    ("wgan", "paper"): 6_342_272,  # authors' DCGAN_G + DCGAN_D (ngf = ndf = 64, 64x64x3): 3,576,704 + 2,765,568
    ("clip", "rn50"): 102_007_137,  # RN50 = open_clip "RN50"
}


def tiny(name: str):
    module = get(name)
    return module, module.PRESETS["tiny"]


def first_batch(module, cfg):
    train_batches, _ = module.build_data(cfg)
    return next(iter(train_batches))


# --- the contract --------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_module_exposes_the_contract(name):
    module = get(name)
    assert isinstance(module.PAPER, str) and module.PAPER
    assert dataclasses.is_dataclass(module.Config)
    fields = {f.name for f in dataclasses.fields(module.Config)}
    assert {"seed", "steps", "batch_size", "lr", "data_root"} <= fields
    assert {"paper", "mini", "tiny"} <= set(module.PRESETS)
    for fn in ("build_model", "build_data", "training_step", "evaluate"):
        assert callable(getattr(module, fn)), fn
    ids = [c.id for c in module.CLAIMS]
    assert len(ids) == len(set(ids)), "claim ids must be unique"
    for claim in module.CLAIMS:
        assert isinstance(claim, Claim)
        assert claim.paper and claim.source, f"{claim.id}: quote the paper and say where"
        assert set(claim.presets) <= set(module.PRESETS), claim.id
    assert any(c.margins is not None and "mini" in c.presets for c in module.CLAIMS), \
        "the miniature must make at least one checkable claim"


@pytest.mark.parametrize("name", NAMES)
def test_presets_round_trip_through_json(name):
    module = get(name)
    for cfg in module.PRESETS.values():
        assert config_from_dict(module.Config, json.loads(json.dumps(config_to_dict(cfg)))) == cfg


def test_every_paper_preset_has_a_recorded_parameter_count():
    missing = [n for n in NAMES if (n, "paper") not in PARAM_COUNTS]
    assert not missing, f"add the paper preset's parameter count to PARAM_COUNTS for {missing}"


@pytest.mark.parametrize(("name", "preset"), sorted(PARAM_COUNTS))
def test_paper_scale_parameter_count_matches_the_reference(name, preset):
    module = get(name)
    with torch.device("meta"):  # no memory, no init cost: a 632M-parameter ViT-H builds instantly
        model = module.build_model(module.PRESETS[preset])
    assert sum(p.numel() for p in model.parameters()) == PARAM_COUNTS[(name, preset)]


# --- tiny forward / backward ---------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_tiny_step_gives_a_finite_loss_and_a_gradient_for_every_parameter(name):
    module, cfg = tiny(name)
    seed_everything(cfg.seed)
    model = module.build_model(cfg)
    model.train()
    out = module.training_step(model, first_batch(module, cfg))
    assert out["loss"].ndim == 0 and torch.isfinite(out["loss"])
    opts, _ = _optimizers(module, model, cfg)
    losses = out.get("losses", [out["loss"]])
    assert len(losses) == len(opts), "one loss per optimizer"
    owned = {id(p) for o in opts for p in _params(o)}
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert not [n for n, p in model.named_parameters() if p.requires_grad and id(p) not in owned], \
        "every trainable parameter belongs to an optimizer"
    for i, (loss, opt) in enumerate(zip(losses, opts, strict=True)):
        torch.autograd.backward(loss, inputs=_params(opt), retain_graph=i < len(losses) - 1)
    no_grad = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not no_grad, f"parameters without a gradient: {no_grad[:5]}"
    bad = [n for n, p in model.named_parameters() if n in trainable and not p.grad.isfinite().all()]
    assert not bad


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_builds_the_same_model_and_output(name):
    module, cfg = tiny(name)
    batch = first_batch(module, cfg)

    def forward(seed):
        seed_everything(seed)
        model = module.build_model(dataclasses.replace(cfg, seed=seed)).eval()
        with torch.no_grad():
            seed_everything(seed)
            return model, module.training_step(model, batch)["loss"]

    (m1, loss1), (m2, loss2), (m3, _) = forward(0), forward(0), forward(1)
    assert torch.equal(loss1, loss2)
    for (k, a), b in zip(m1.state_dict().items(), m2.state_dict().values(), strict=True):
        assert torch.equal(a, b), k
    assert any(not torch.equal(a, b) for a, b in
               zip(m1.state_dict().values(), m3.state_dict().values(), strict=True))


@pytest.mark.parametrize("name", NAMES)
def test_tiny_run_writes_a_complete_result(name, tmp_path):
    module, cfg = tiny(name)
    result = run(module, cfg, "tiny", tmp_path / "run", name=name, argv=["test"])
    assert set(result["metrics"]) == set(variants_of(module, cfg))
    for metrics in result["metrics"].values():
        assert metrics and all(isinstance(v, float) for v in metrics.values())
    assert {c["id"] for c in result["claims"]} == {c.id for c in module.CLAIMS}
    # tiny is a smoke test: it evaluates no claim, and says so rather than "held"
    assert {c["verdict"] for c in result["claims"]} == {NOT_APPLICABLE}
    assert isinstance(result["baselines"], dict)
    assert json.loads((tmp_path / "run" / "status.json").read_text())["state"] == "done"


# --- --set ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_set_rejects_an_unknown_key_and_suggests_the_closest(name):
    _, cfg = tiny(name)
    with pytest.raises(ConfigError, match="unknown config key 'sed'; did you mean 'seed'"):
        apply_overrides(cfg, ["sed=3"])


@pytest.mark.parametrize("name", NAMES)
def test_set_parses_typed_values_and_rejects_wrong_types(name):
    _, cfg = tiny(name)
    new = apply_overrides(cfg, ["steps=7", "lr=1e-3", "data_root=/tmp/data dir"])
    assert (new.steps, new.lr, new.data_root) == (7, 1e-3, "/tmp/data dir")
    with pytest.raises(ConfigError, match="steps must be an int"):
        apply_overrides(cfg, ["steps=1.5"])
    with pytest.raises(ConfigError, match="lr must be a float"):
        apply_overrides(cfg, ["lr=fast"])


@pytest.mark.parametrize("name", NAMES)
def test_describe_gives_every_field_with_its_default_per_preset(name, capsys):
    module = get(name)
    assert repro_main(["describe", name, "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert [f["name"] for f in info["fields"]] == [f.name for f in dataclasses.fields(module.Config)]
    for f in info["fields"]:
        assert set(f["defaults"]) == set(module.PRESETS)
    steps = next(f for f in info["fields"] if f["name"] == "steps")
    assert steps["type"] == "int" and steps["defaults"]["mini"] == module.PRESETS["mini"].steps
    assert info["paper"] == module.PAPER and len(info["claim_list"]) == len(module.CLAIMS)


# --- the config parser itself --------------------------------------------------------------


@dataclass
class Example:
    seed: int = 0
    rate: float = 0.1  # the learning rate
    root: str | None = None
    flag: bool = False
    dims: tuple[int, ...] = (1, 2)
    pair: tuple[int, int] = (3, 4)
    mode: Literal["a", "b"] = "a"


def test_set_understands_optional_bool_tuple_and_literal():
    cfg = apply_overrides(Example(), ["root=None", "flag=true", "dims=(8, 16, 32)", "pair=[5, 6]",
                                      "mode=b", "rate=1"])
    assert cfg == Example(root=None, flag=True, dims=(8, 16, 32), pair=(5, 6), mode="b", rate=1.0)
    assert isinstance(cfg.rate, float)
    for bad, message in [("flag=1", "flag must be True or False"),
                         ("pair=(1, 2, 3)", "pair must have 2 items"),
                         ("dims=(1, 'x')", "dims must be an int"),
                         ("mode=c", "mode must be one of 'a', 'b'"),
                         ("seed", "--set expects key=value"),
                         ("seed=True", "seed must be an int")]:
        with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
            apply_overrides(Example(), [bad])


def test_set_error_is_one_line_and_a_value_error():
    with pytest.raises(ValueError) as err:
        apply_overrides(Example(), ["rte=0.2"])
    assert "\n" not in str(err.value) and "did you mean 'rate'" in str(err.value)


def test_describe_reads_the_field_comment_as_help():
    fields = {f["name"]: f for f in describe(Example, {"default": Example()})}
    assert fields["rate"]["help"] == "the learning rate"
    assert fields["seed"]["help"] == ""
    assert [fields[k]["type"] for k in ("root", "dims", "pair", "mode")] == [
        "str | None", "tuple[int, ...]", "tuple[int, int]", "Literal['a', 'b']"]
    assert fields["dims"]["defaults"] == {"default": (1, 2)}


def test_cli_reports_a_bad_override_in_one_line_with_exit_2(tmp_path, capsys):
    code = repro_main(["run", NAMES[0], "--preset", "tiny", "--set", "stepz=3",
                       "--out", str(tmp_path / "r"), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("error: unknown config key 'stepz'") and "\n" not in err


def test_cli_reports_an_unknown_reproduction(capsys):
    assert repro_main(["describe", "no-such-paper"]) == 2
    assert "unknown reproduction 'no-such-paper'" in capsys.readouterr().err


def test_cli_list_json_names_every_registered_module(capsys):
    assert repro_main(["list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == list(REPRODUCTIONS)
    assert all(r["claims"] >= 1 and "mini" in r["presets"] for r in rows)
