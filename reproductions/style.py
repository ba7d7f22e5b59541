"""A Neural Algorithm of Artistic Style (Gatys, Ecker & Bethge, 2015), with Perceptual Losses for
Real-Time Style Transfer (Johnson, Alahi & Fei-Fei, 2016), Instance Normalization (Ulyanov,
Vedaldi & Lempitsky, 2016) and Adaptive Instance Normalization (Huang & Belongie, 2017).

https://arxiv.org/abs/1508.06576 -- https://arxiv.org/abs/1603.08155 --
https://arxiv.org/abs/1607.08022 -- https://arxiv.org/abs/1703.06868

Gatys et al. describe an image by the features of a fixed CNN: its content by the feature maps
of one layer (Eq. 1), its style by the Gram matrices of the feature maps of several layers
(Eq. 3-5), and synthesise an image by gradient descent on the pixels, starting from white noise
(Methods; Fig. 1's style reconstructions use the Gram matrices alone: texture synthesis).
Johnson et al. train a feed-forward transformation network with the same losses (perceptual
losses, Sec. 3.2) so that stylising takes one forward pass (Sec. 4.1, Table 1). Ulyanov et al.
replace that network's batch normalisation by instance normalisation, per image and channel,
also at test time (Sec. 2, Eq. 3-4): the stylised image should not depend on the content
image's contrast. Huang & Belongie's AdaIN (Eq. 8) gives the content features the channel-wise
mean and standard deviation of the style features, so that one decoder serves any style
(Sec. 5-6).

Presets (parameter counts are computed from the built model, not quoted by the papers):
- `paper` (Gatys): VGG-19's 16 convolutional layers with average instead of max pooling
  (Methods), built with `reproductions.vgg`'s builder (configuration E; 20,024,384 parameters,
  torchvision `vgg19().features`), plus the 3x512x512 image being optimised (786,432): 20,810,816.
- `paper-johnson`: the transformation network of Johnson's supplementary material (9x9 conv 32,
  two stride-2 convs 64 and 128, five residual blocks of 128, two stride-1/2 convs, 9x9 conv 3,
  batch norm; 1,679,235 parameters) and its loss network VGG-16 up to relu4_3 (7,635,264): 9,314,499.
- `paper-in` (Ulyanov): the same network with instance norm (affine): the same 9,314,499.
- `paper-adain` (Huang): VGG-19 up to relu4_1 (3,505,728) and its mirrored decoder (nearest
  up-sampling for pooling, no normalisation; 3,505,219): 7,010,947.
- `mini` (Gatys): texture synthesis (Fig. 1's style reconstruction): a 32x32 image optimised from
  noise so that the Gram matrices of a random-weight VGG-shaped net (4 layers at 3 scales) match
  those of a generated texture; against the texture's own pixels shuffled (the same pixel
  histogram) and a fresh draw of the same texture (the ceiling).
- `mini-johnson`: a transformation network (16-32-64 channels, 3 residual blocks) trained for one
  generated style on 32x32 crops of scikit-learn's two bundled sample photos (`load_sample_images`:
  china.jpg and flower.jpg, CC BY 2.0, shipped with scikit-learn; left 70% of each for training,
  right 30% for testing), against per-image optimisation of the same loss in the same run.
- `mini-in`: the `mini-johnson` network with instance norm and with batch norm, same run.
- `mini-adain`: a decoder trained behind a fixed random encoder with AdaIN on textures of one
  family of orientations and colours, tested on styles of another family.
- `tiny`: a seconds-long smoke run.

What random, untrained features can and cannot show: no pretrained weights exist here. Gram
statistics of random multi-scale features do capture texture statistics (Ustyuzhaninov et al.,
2017, background, not a claim of these papers), so texture synthesis, the speed of a
feed-forward net and the mechanics of IN and AdaIN can be measured. What a random net cannot give
is Gatys's separation of *content* (object layout recognised by an ImageNet-trained net) from
style: content losses here are feature reconstruction in random features, close to a blurred
pixel loss, and no claim is made about artistic quality.

Deviations from the papers:
- Adam on the pixels instead of L-BFGS (Gatys; Johnson's baseline): the trainer has no closure.
- Images are in [0, 1] and fed to the nets unnormalised (the VGG presets would take ImageNet-
  normalised images with pretrained weights, which are not loaded here).
- Johnson's residual blocks use 'same' reflection padding instead of unpadded convolutions on a
  reflection-padded input; the output is (tanh + 1) / 2 instead of a tanh scaled to [0, 255].
- The per-image optimisation that `mini-johnson` times starts from the content image, not noise:
  it reaches a given loss sooner, so the measured speed-up is a lower bound.
- AdaIN's losses (Eq. 12-13) are squared mean errors, not L2 norms; the mini's textures
  ("styles") are generated (`texture`), not WikiArt paintings, and its photos are 32x32 crops.
- The minis' loss nets are random-weight VGG-shaped nets (`reproductions.vgg` configuration A,
  3 stages of 32-64-128 channels, average pooling); every ReLU is a style layer with w_l = 1/L
  (Gatys Eq. 5), the second-deepest the content layer.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn as nn
import torch.nn.functional as F

from reproductions import vgg
from reproductions.common.claims import Claim
from reproductions.common.config import ConfigError

PAPER = "gatys"

# Feature taps (indices in torchvision's `vgg*.features`, after the ReLU) per loss network.
VGG_TAPS = {
    "gatys": dict(configuration="E", style=(1, 6, 11, 20, 29), content=22, cut=37),  # conv1_1..5_1, conv4_2
    "johnson": dict(configuration="D", style=(3, 8, 15, 22), content=8, cut=23),  # relu1_2..4_3, relu2_2
    "adain": dict(configuration="E", style=(1, 6, 11, 20), content=20, cut=21),  # relu1_1..4_1
}


# --- blocks --------------------------------------------------------------------------------


def gram(f: torch.Tensor, normalize: bool = True) -> torch.Tensor:
    """G_ij = sum_k F_ik F_jk (Gatys Eq. 3), divided by C H W when `normalize` (Johnson Sec. 3.2)."""
    B, C, H, W = f.shape
    f = f.reshape(B, C, H * W)  # (B, N, M): N channels, M positions
    g = f @ f.transpose(1, 2)  # (B, N, N)
    return g / (C * H * W) if normalize else g


def gatys_layer_loss(f: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """E_l = 1 / (4 N_l^2 M_l^2) sum_ij (G_ij - A_ij)^2 (Gatys Eq. 4); `a` the target's Gram."""
    B, N, H, W = f.shape
    return ((gram(f, normalize=False) - a) ** 2).sum((1, 2)).mean() / (4 * N**2 * (H * W) ** 2)


def mean_std(f: torch.Tensor, eps: float = 1e-5):
    """mu(x), sigma(x) per image and channel over the spatial positions (AdaIN Eq. 5-6)."""
    mu = f.mean((2, 3), keepdim=True)  # (B, C, 1, 1)
    return mu, (f.var((2, 3), keepdim=True, unbiased=False) + eps).sqrt()


def adain(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """AdaIN(x, y) = sigma(y) (x - mu(x)) / sigma(x) + mu(y) (Huang Eq. 8)."""
    mx, sx = mean_std(x)
    my, sy = mean_std(y)
    return sy * (x - mx) / sx + my


class LossNet(nn.Module):
    """A fixed VGG-shaped feature extractor: `features` (torchvision's indices) with average
    pooling (Gatys, Methods: "improves the gradient flow"), returning the tapped ReLU outputs."""

    def __init__(self, configuration: str, widths, taps: tuple[int, ...], cut: int | None,
                 avg_pool: bool = True):
        super().__init__()
        body = vgg.VGG(vgg.Config(configuration=configuration, widths=tuple(widths), image_size=32,
                                  fc_dim=1, num_classes=1, dropout=0.0)).features
        layers = [nn.AvgPool2d(2, 2) if avg_pool and isinstance(m, nn.MaxPool2d) else m
                  for m in list(body)[:cut]]
        for m in layers:
            if isinstance(m, nn.ReLU):
                m.inplace = False  # the tapped outputs must survive the next layer
        self.features = nn.Sequential(*layers)
        self.taps = tuple(taps)
        self.requires_grad_(False)

    def forward(self, x) -> dict[int, torch.Tensor]:  # (B, 3, H, W) -> {index: (B, C, h, w)}
        out = {}
        for i, m in enumerate(self.features):
            x = m(x)
            if i in self.taps:
                out[i] = x
            if i >= max(self.taps):
                break
        return out


def norm_layer(kind: str, c: int) -> nn.Module:
    """Johnson: spatial batch norm (Sec. 3.1); Ulyanov: instance norm, also at test (Eq. 4)."""
    return nn.InstanceNorm2d(c, affine=True) if kind == "instance" else nn.BatchNorm2d(c)


def conv(c_in, c_out, k, stride=1):
    return nn.Conv2d(c_in, c_out, k, stride, padding=k // 2, padding_mode="reflect")


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions with norm, ReLU after the first only, added to the input (Johnson
    Sec. 3.1 and supplementary, after Gross & Wilber's design)."""

    def __init__(self, c: int, norm: str):
        super().__init__()
        self.body = nn.Sequential(conv(c, c, 3), norm_layer(norm, c), nn.ReLU(),
                                  conv(c, c, 3), norm_layer(norm, c))

    def forward(self, x):  # (B, C, H, W)
        return x + self.body(x)


class TransformNet(nn.Module):
    """Johnson's image transformation network f_W (Sec. 3.1): down-sample twice, residual
    blocks, up-sample twice with stride-1/2 convolutions, 9x9 convolutions at both ends."""

    def __init__(self, cfg: Config):
        super().__init__()
        c1, c2, c3 = cfg.net_widths
        n = cfg.norm

        def up(ci, co):
            return nn.ConvTranspose2d(ci, co, 3, stride=2, padding=1, output_padding=1)

        self.body = nn.Sequential(
            conv(3, c1, 9), norm_layer(n, c1), nn.ReLU(),
            conv(c1, c2, 3, 2), norm_layer(n, c2), nn.ReLU(),  # (B, c2, H/2, W/2)
            conv(c2, c3, 3, 2), norm_layer(n, c3), nn.ReLU(),  # (B, c3, H/4, W/4)
            *[ResidualBlock(c3, n) for _ in range(cfg.res_blocks)],
            up(c3, c2), norm_layer(n, c2), nn.ReLU(),  # (B, c2, H/2, W/2)
            up(c2, c1), norm_layer(n, c1), nn.ReLU(),  # (B, c1, H, W)
            conv(c1, 3, 9))

    def forward(self, x):  # (B, 3, H, W) in [0, 1]
        return (torch.tanh(self.body(x)) + 1) / 2  # "scaled tanh" output layer (Sec. 3.1)


def mirror_decoder(encoder: nn.Sequential) -> nn.Sequential:
    """Huang Sec. 6.1: the decoder mirrors the encoder, pooling replaced by nearest up-sampling,
    reflection padding, no normalisation, no non-linearity after the last convolution."""
    layers: list[nn.Module] = []
    for m in reversed(encoder):
        if isinstance(m, nn.Conv2d):
            layers += [conv(m.out_channels, m.in_channels, 3), nn.ReLU()]
        elif isinstance(m, (nn.AvgPool2d, nn.MaxPool2d)):
            layers.append(nn.Upsample(scale_factor=2, mode="nearest"))
    return nn.Sequential(*layers[:-1])


# --- config --------------------------------------------------------------------------------


@dataclass
class Config:
    seed: int = 0
    steps: int = 1000  # Gatys: optimisation steps on the image (L-BFGS in the paper)
    batch_size: int = 1  # johnson: 4 (Sec. 4.1); adain: 8 content-style pairs (Sec. 6.2)
    lr: float = 0.05
    data_root: str | None = None  # paper presets: content/style images (not bundled)
    method: Literal["gatys", "johnson", "adain"] = "gatys"
    loss_net: Literal["vgg", "random"] = "vgg"  # random: a random-weight VGG-shaped net
    random_config: str = "A"  # reproductions.vgg configuration of the random net (Table 1)
    random_widths: tuple[int, ...] = (32, 64, 128)  # its channels per stage
    image_size: int = 512
    norm: Literal["batch", "instance"] = "batch"  # johnson: BN (Johnson) or IN (Ulyanov)
    net_widths: tuple[int, int, int] = (32, 64, 128)  # johnson supplementary: 32, 64, 128
    res_blocks: int = 5  # johnson supplementary: five residual blocks
    content_weight: float = 1.0  # alpha (Gatys Eq. 7), lambda_c (Johnson)
    style_weight: float = 1e3  # beta (Gatys Eq. 7), lambda_s; AdaIN's lambda (Eq. 11)
    tv_weight: float = 0.0  # Johnson Sec. 3.3: total variation regulariser
    texture_angle: float = 0.6  # gatys/johnson: the generated style's orientation (radians)
    texture_period: float = 6.0  # its wavelength in pixels
    train_images: int = 256  # johnson/adain: 32x32 content crops to train on
    test_images: int = 8  # held-out crops (and, adain, unseen styles)
    opt_iters: int = 150  # johnson: per-image optimisation steps timed against the network
    compare_norms: bool = False  # mini-in: train an IN and a BN network in the same run


# --- model ---------------------------------------------------------------------------------


def build_loss_net(cfg: Config) -> LossNet:
    taps = VGG_TAPS[cfg.method]
    if cfg.loss_net == "vgg":
        return LossNet(taps["configuration"], (64, 128, 256, 512, 512), taps["style"],
                       taps["cut"], avg_pool=cfg.method == "gatys")
    net = LossNet(cfg.random_config, cfg.random_widths, (), None)
    relus = [i for i, m in enumerate(net.features) if isinstance(m, nn.ReLU)]
    net.taps, net.features = tuple(relus), net.features[:relus[-1] + 1]  # every ReLU: multi-scale
    return net


def content_tap(cfg: Config, net: LossNet) -> int:
    """The content layer: conv4_2 / relu2_2 / relu4_1 of VGG, the second-deepest tap of a random net."""
    return VGG_TAPS[cfg.method]["content"] if cfg.loss_net == "vgg" else net.taps[-2]


class ImageSynthesis(nn.Module):
    """Gatys: the image x is the only trainable parameter; the loss net is fixed."""

    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg, self.loss_net = cfg, build_loss_net(cfg)
        self.image = nn.Parameter(torch.rand(1, 3, cfg.image_size, cfg.image_size))  # white noise
        self.register_buffer("start", self.image.detach().clone())


class FeedForward(nn.Module):
    """Johnson / Ulyanov: a trained transformation network and the fixed loss network."""

    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg, self.net, self.loss_net = cfg, TransformNet(cfg), build_loss_net(cfg)


class AdaINNet(nn.Module):
    """Huang Sec. 6.1: T(c, s) = g(AdaIN(f(c), f(s))) (Eq. 9-10); f fixed, g trained."""

    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg, self.loss_net = cfg, build_loss_net(cfg)  # f: the encoder is the loss net
        self.decoder = mirror_decoder(self.loss_net.features)

    def forward(self, c, s):  # (B, 3, H, W) each
        t = adain(self.encode(c), self.encode(s))  # Eq. 9
        return self.decoder(t), t  # Eq. 10

    def encode(self, x):
        return self.loss_net(x)[self.loss_net.taps[-1]]  # relu4_1 (or the random net's last)


def build_model(cfg: Config) -> nn.Module:
    return {"gatys": ImageSynthesis, "johnson": FeedForward, "adain": AdaINNet}[cfg.method](cfg)


# --- presets -------------------------------------------------------------------------------

_RANDOM = dict(loss_net="random", image_size=32, random_widths=(32, 64, 128))
PRESETS = {
    "paper": Config(),  # 20,024,384 (VGG-19 convs) + 786,432 (image) = 20,810,816
    # Johnson Sec. 4.1: 256x256 COCO crops, batch 4, 40k steps, Adam 1e-3, TV 1e-6 to 1e-4
    "paper-johnson": Config(method="johnson", image_size=256, batch_size=4, lr=1e-3,
                            steps=40_000, tv_weight=1e-6),  # 1,679,235 + 7,635,264 = 9,314,499
    "paper-in": Config(method="johnson", norm="instance", image_size=256, batch_size=4, lr=1e-3,
                       steps=40_000, tv_weight=1e-6),  # 9,314,499
    # Huang Sec. 6.2: 256x256 crops, 8 content-style pairs per batch, Adam; steps, lr and
    # lambda here are ours, not the paper's
    "paper-adain": Config(method="adain", image_size=256, batch_size=8, lr=1e-4, steps=160_000,
                          style_weight=10.0),  # 3,505,728 + 3,505,219 = 7,010,947
    "mini": Config(**_RANDOM, steps=1500, lr=0.05, content_weight=0.0),
    "mini-johnson": Config(method="johnson", **_RANDOM, net_widths=(16, 32, 64), res_blocks=3,
                           steps=300, batch_size=4, lr=3e-3, style_weight=30.0),
    "mini-in": Config(method="johnson", **_RANDOM, net_widths=(16, 32, 64), res_blocks=3,
                      steps=300, batch_size=4, lr=3e-3, style_weight=30.0, compare_norms=True,
                      opt_iters=0),
    "mini-adain": Config(method="adain", **_RANDOM, steps=700, batch_size=8, lr=2e-3,
                         style_weight=10.0),
    "tiny": Config(loss_net="random", image_size=16, random_widths=(4, 8), steps=3,
                   content_weight=0.0),
}


def variants(cfg: Config) -> dict[str, Config]:
    """`main`; with `compare_norms`, `in` and `bn`: the same network with each normalisation."""
    if cfg.compare_norms:
        base = dataclasses.replace(cfg, compare_norms=False)
        return {"in": dataclasses.replace(base, norm="instance"),
                "bn": dataclasses.replace(base, norm="batch")}
    return {"main": cfg}


# --- data ----------------------------------------------------------------------------------


def texture(size: int, angle: float, period: float, colours: torch.Tensor, seed: int,
            n: int = 1) -> torch.Tensor:
    """`n` draws of a stationary oriented texture (B, 3, size, size) in [0, 1]: white noise
    band-passed around one orientation and wavelength, squashed, mapped between two colours."""
    g = torch.Generator().manual_seed(seed)
    noise = torch.randn(n, size, size, generator=g)
    f = torch.fft.fftfreq(size)
    fy, fx = torch.meshgrid(f, f, indexing="ij")
    k0 = torch.tensor([math.sin(angle), math.cos(angle)]) / period
    bump = lambda s: torch.exp(-((fy - s * k0[0]) ** 2 + (fx - s * k0[1]) ** 2) / (2 * 0.03**2))  # noqa: E731
    field = torch.fft.ifft2(torch.fft.fft2(noise) * (bump(1) + bump(-1))).real  # (n, H, W)
    s = torch.sigmoid(3 * field / field.std())[:, None]  # (n, 1, H, W)
    c0, c1 = colours[0].view(1, 3, 1, 1), colours[1].view(1, 3, 1, 1)
    return c0 + (c1 - c0) * s


def photo_crops(n: int, size: int, seed: int, test: bool) -> torch.Tensor:
    """`n` random size x size crops of scikit-learn's two bundled photos, down-sampled 4x; the
    left 70% of each photo for training, the right 30% for testing."""
    from sklearn.datasets import load_sample_images

    g = torch.Generator().manual_seed(seed + (1 if test else 0))
    imgs = [F.avg_pool2d(torch.tensor(im).permute(2, 0, 1)[None].float() / 255, 4)[0]
            for im in load_sample_images().images]  # each (3, 106, 160)
    out = []
    for i in range(n):
        im = imgs[i % 2]
        w = im.shape[2]
        lo, hi = (int(0.7 * w), w - size) if test else (0, int(0.7 * w) - size)
        y = int(torch.randint(0, im.shape[1] - size + 1, (1,), generator=g))
        x = int(torch.randint(lo, hi + 1, (1,), generator=g))
        out.append(im[:, y:y + size, x:x + size])
    return torch.stack(out)  # (n, 3, size, size)


def style_params(n: int, seed: int, unseen: bool) -> list[tuple[float, float, torch.Tensor]]:
    """(angle, period, colours) of `n` styles: training styles have orientations in [0, pi/2)
    and warm colours, unseen ones orientations in [pi/2, pi) and cool colours (mini-adain)."""
    g = torch.Generator().manual_seed(seed + (7 if unseen else 3))
    out = []
    for _ in range(n):
        u = torch.rand(4, generator=g)
        angle = (float(u[0]) + (1 if unseen else 0)) * math.pi / 2
        cols = torch.rand(2, 3, generator=g) * 0.5
        cols[1, 2 if unseen else 0] += 0.5  # a blue (unseen) or red (seen) bright colour
        out.append((angle, 4.0 + 4.0 * float(u[1]), cols))
    return out


STYLE_COLOURS = torch.tensor([[0.1, 0.2, 0.5], [0.95, 0.8, 0.3]])  # gatys / johnson style


def build_data(cfg: Config):
    """`(train batches, eval data)`. gatys: the target texture each step; johnson: batches of
    content crops with the style; adain: content crops paired with training styles."""
    if cfg.loss_net == "vgg":
        raise ConfigError("the paper presets need pretrained VGG weights and content/style "
                          "images (not bundled): build the model for its parameter count only")
    size, seed = cfg.image_size, cfg.seed
    if cfg.method == "gatys":
        target = texture(size, cfg.texture_angle, cfg.texture_period, STYLE_COLOURS, seed)
        fresh = texture(size, cfg.texture_angle, cfg.texture_period, STYLE_COLOURS, seed + 1000)
        return [target], {"target": target, "fresh": fresh}
    content = photo_crops(cfg.train_images, size, seed, test=False)
    test = photo_crops(cfg.test_images, size, seed, test=True)
    g = torch.Generator().manual_seed(seed)
    if cfg.method == "johnson":
        style = texture(size, cfg.texture_angle, cfg.texture_period, STYLE_COLOURS, seed)
        order = torch.randperm(len(content), generator=g)
        batches = [(content[order[i:i + cfg.batch_size]], style)
                   for i in range(0, len(content) - cfg.batch_size + 1, cfg.batch_size)]
        return batches, {"test": test, "style": style}
    seen = torch.cat([texture(size, a, p, c, seed + i) for i, (a, p, c) in
                      enumerate(style_params(64, seed, unseen=False))])  # (64, 3, H, W)
    unseen = torch.cat([texture(size, a, p, c, seed + 500 + i) for i, (a, p, c) in
                        enumerate(style_params(cfg.test_images, seed, unseen=True))])
    batches = []
    for i in range(0, len(content) - cfg.batch_size + 1, cfg.batch_size):
        pick = torch.randint(0, len(seen), (cfg.batch_size,), generator=g)
        batches.append((content[i:i + cfg.batch_size], seen[pick]))
    return batches, {"test": test, "unseen": unseen, "seen": seen[:cfg.test_images]}


# --- losses and training -------------------------------------------------------------------


def perceptual_targets(net: LossNet, content, style, cfg: Config):
    """What the loss compares with: phi_j(content) at the content layer, G(phi(style)) per layer."""
    fc = net(content)[content_tap(cfg, net)] if content is not None else None
    fs = net(style)
    return fc, {i: gram(fs[i]) for i in net.taps}


def perceptual_loss(net: LossNet, y, targets, cfg: Config) -> dict[str, torch.Tensor]:
    """Content: 1/(C H W) ||phi_j(y) - phi_j(content)||^2 (Johnson Sec. 3.2, Gatys Eq. 1 up to
    scale); style: sum over layers of ||G(phi(y)) - G(phi(style))||_F^2 (Johnson Sec. 3.2);
    total variation (Sec. 3.3); weighted as alpha, beta in Gatys Eq. 7."""
    fc, grams = targets
    fy = net(y)
    out = {"style_loss": sum(((gram(fy[i]) - grams[i].expand(len(y), -1, -1)) ** 2)
                             .sum((1, 2)).mean() for i in net.taps)}
    j = content_tap(cfg, net)
    out["content_loss"] = F.mse_loss(fy[j], fc) if fc is not None else y.sum() * 0
    out["tv_loss"] = (y[..., 1:, :] - y[..., :-1, :]).abs().mean() + \
        (y[..., 1:] - y[..., :-1]).abs().mean()
    out["loss"] = cfg.content_weight * out["content_loss"] + cfg.style_weight * out["style_loss"] \
        + cfg.tv_weight * out["tv_loss"]
    return out


def feedforward_loss(model: FeedForward, content, style, y=None) -> dict[str, torch.Tensor]:
    """The perceptual loss of f_W(content) (or of `y`) for `content` and `style`."""
    cfg = model.cfg
    y = model.net(content) if y is None else y
    return perceptual_loss(model.loss_net, y, perceptual_targets(model.loss_net, content, style,
                                                                 cfg), cfg)


def adain_loss(model: AdaINNet, c, s, cfg: Config) -> dict[str, torch.Tensor]:
    """L = L_c + lambda L_s (Huang Eq. 11): L_c = ||f(g(t)) - t||_2 (Eq. 12), L_s the distance of
    the channel means and standard deviations of each layer (Eq. 13); squared means here."""
    out, t = model(c, s)
    fo, fs = model.loss_net(out), model.loss_net(s)
    content = F.mse_loss(fo[model.loss_net.taps[-1]], t)
    style = sum(style_stat_distance(fo[i], fs[i]) for i in model.loss_net.taps)
    return {"loss": content + cfg.style_weight * style, "content_loss": content,
            "style_loss": style}


def style_stat_distance(a, b) -> torch.Tensor:
    (ma, sa), (mb, sb) = mean_std(a), mean_std(b)
    return F.mse_loss(ma, mb) + F.mse_loss(sa, sb)


def training_step(model: nn.Module, batch) -> dict:
    cfg = model.cfg
    if cfg.method == "gatys":  # Fig. 1 style reconstruction: Gram matrices only (Eq. 5)
        target = batch
        fx, ft = model.loss_net(model.image), model.loss_net(target)
        style = sum(gatys_layer_loss(fx[i], gram(ft[i], normalize=False))
                    for i in model.loss_net.taps) / len(model.loss_net.taps)  # w_l = 1 / |L|
        loss = cfg.style_weight * style
        if cfg.content_weight:
            raise ConfigError("mini synthesises texture only: content_weight must be 0")
        return {"loss": loss, "style_loss": style}
    if cfg.method == "johnson":
        content, style = batch
        return feedforward_loss(model, content, style)
    content, style = batch
    return adain_loss(model, content, style, cfg)


def build_optimizer(model: nn.Module, cfg: Config):
    """Adam on whatever is trained: the pixels (Gatys), f_W (Johnson Sec. 4.1: Adam, lr 1e-3),
    the decoder (Huang Sec. 6.2: Adam)."""
    return torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=cfg.lr), None


# --- evaluation ----------------------------------------------------------------------------


def spectrum(x: torch.Tensor, bins: int = 8) -> torch.Tensor:
    """The grey-level power spectrum (mean removed) pooled into bins x bins cells of (fy, fx),
    normalised to sum 1: a texture's second-order statistics, orientation and scale together."""
    grey = x.mean(1)  # (B, H, W)
    p = torch.fft.fftshift(torch.fft.fft2(grey - grey.mean((1, 2), keepdim=True)).abs() ** 2,
                           dim=(1, 2))  # (B, H, W)
    p = F.adaptive_avg_pool2d(p[:, None], bins)[:, 0].mean(0)  # (bins, bins)
    return p / p.sum()


def orientation_histogram(x: torch.Tensor, bins: int = 12) -> torch.Tensor:
    """Gradient orientations mod pi, weighted by gradient magnitude, normalised to sum 1."""
    grey = x.mean(1)
    gy, gx = grey[:, 1:, :-1] - grey[:, :-1, :-1], grey[:, :-1, 1:] - grey[:, :-1, :-1]
    theta = torch.atan2(gy, gx).remainder(math.pi)
    idx = (theta / math.pi * bins).long().clamp(max=bins - 1).flatten()
    h = torch.zeros(bins).index_add_(0, idx, (gx**2 + gy**2).sqrt().flatten())
    return h / h.sum()


def texture_stats(x: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    """L1 distances of the spectrum and orientation histogram of `x` to the target's."""
    return {"spectrum_distance": float((spectrum(x) - spectrum(target)).abs().sum()),
            "orientation_distance": float((orientation_histogram(x) -
                                           orientation_histogram(target)).abs().sum())}


def gram_distance(net: LossNet, x, target) -> float:
    fx, ft = net(x), net(target)
    return float(sum(gatys_layer_loss(fx[i], gram(ft[i], normalize=False)) for i in net.taps))


def optimise_image(model: FeedForward, content, style, cfg: Config):
    """Johnson's baseline, Gatys's method: Adam on the pixels of one image, started from the
    content image, its targets computed once; the loss after each step and the seconds taken."""
    x = content.clone().requires_grad_(True)
    opt = torch.optim.Adam([x], lr=0.02)
    losses, times, t0 = [], [], time.perf_counter()
    with torch.enable_grad():
        targets = perceptual_targets(model.loss_net, content, style, cfg)
        for _ in range(cfg.opt_iters):
            loss = perceptual_loss(model.loss_net, x, targets, cfg)["loss"]
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
            times.append(time.perf_counter() - t0)
    return losses, times


def evaluate(model: nn.Module, eval_data, cfg: Config) -> dict[str, float]:
    if cfg.method == "gatys":
        target, x = eval_data["target"], model.image.detach().clamp(0, 1)
        return {"gram_distance": gram_distance(model.loss_net, x, target),
                "gram_distance_start": gram_distance(model.loss_net, model.start, target),
                **texture_stats(x, target)}
    if cfg.method == "johnson":
        return evaluate_feedforward(model, eval_data, cfg)
    return evaluate_adain(model, eval_data, cfg)


def evaluate_feedforward(model: FeedForward, eval_data, cfg: Config) -> dict[str, float]:
    """Per test image: the network's loss and forward time; the per-image optimisation's time to
    reach that loss (Johnson Sec. 4.1, Table 1); the output's change when the content image's
    contrast is halved (Ulyanov Sec. 2)."""
    test, style = eval_data["test"], eval_data["style"]
    mean = lambda v: sum(v) / len(v)  # noqa: E731
    out = {}
    if cfg.opt_iters:
        net_loss, ident, opt_time, net_time, opt_final, reached = [], [], [], [], [], 0
        for c in test.split(1):
            t0 = time.perf_counter()
            for _ in range(5):
                y = model.net(c)
            net_time.append((time.perf_counter() - t0) / 5)
            loss = float(feedforward_loss(model, c, style, y)["loss"])
            net_loss.append(loss)
            ident.append(float(feedforward_loss(model, c, style, c)["loss"]))
            losses, times = optimise_image(model, c, style, cfg)
            hit = next((i for i, v in enumerate(losses) if v <= loss), None)
            reached += hit is not None
            opt_time.append(times[hit if hit is not None else -1])  # not reached: a lower bound
            opt_final.append(losses[-1])
        out = {"net_loss": mean(net_loss), "identity_loss": mean(ident),
               "optimisation_final_loss": mean(opt_final),
               "optimisation_reached_fraction": reached / len(test),
               "net_seconds": mean(net_time), "optimisation_seconds_to_match": mean(opt_time),
               "speedup": mean(opt_time) / mean(net_time)}
    mu = test.mean((1, 2, 3), keepdim=True)
    low = 0.5 * (test - mu) + mu  # (B, 3, H, W): the same photos at half the contrast
    y, y_low = model.net(test), model.net(low)
    loss = feedforward_loss(model, test, style, y)
    return {**out, "contrast_change": float((y - y_low).abs().mean() / (y - y.mean()).abs().mean()),
            "test_loss": float(loss["loss"]), "style_loss": float(loss["style_loss"]),
            "low_contrast_style_loss": float(feedforward_loss(model, low, style, y_low)["style_loss"])}


def evaluate_adain(model: AdaINNet, eval_data, cfg: Config) -> dict[str, float]:
    """Style loss (Eq. 13's statistics at every tap) of T(c, s) against s, on held-out photos
    with unseen and seen styles; the same for the content image itself and for the content
    image with the style's mean colour."""
    test = eval_data["test"]
    net = model.loss_net

    def style_loss(x, s):
        fx, fs = net(x), net(s)
        return float(sum(style_stat_distance(fx[i], fs[i]) for i in net.taps))

    out = {}
    for kind in ("unseen", "seen"):
        s = eval_data[kind]
        out[f"{kind}_style_loss"] = style_loss(model(test, s)[0].clamp(0, 1), s)
    s = eval_data["unseen"]
    out["identity_style_loss"] = style_loss(test, s)
    shifted = test - test.mean((2, 3), keepdim=True) + s.mean((2, 3), keepdim=True)
    out["mean_colour_style_loss"] = style_loss(shifted.clamp(0, 1), s)
    return out


def baselines(cfg: Config) -> dict[str, dict[str, float]]:
    """gatys: the target's own pixels shuffled (the same pixel histogram per channel, no spatial
    structure), and a fresh draw of the same texture (what a perfect synthesis would score)."""
    if cfg.method != "gatys" or cfg.loss_net != "random":
        return {}
    _, ev = build_data(cfg)
    t = ev["target"]
    g = torch.Generator().manual_seed(cfg.seed)
    flat = t.reshape(3, -1)
    shuffled = flat[:, torch.randperm(flat.shape[1], generator=g)].view_as(t)
    return {"shuffled pixels": texture_stats(shuffled, t), "fresh sample": texture_stats(ev["fresh"], t)}


def figures(out_dir, cfg: Config, models, metrics) -> list[dict]:
    """Fig. 1's style reconstruction in miniature: target texture, white-noise start, the image
    after Gram matching, the shuffled-pixel baseline and a fresh draw of the texture."""
    if cfg.method != "gatys" or cfg.image_size < 32:
        return []
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _, ev = build_data(cfg)
    m, t = models["main"], ev["target"]
    flat = t.reshape(3, -1)
    shuffled = flat[:, torch.randperm(flat.shape[1], generator=torch.Generator().manual_seed(
        cfg.seed))].view_as(t)
    panels = {"target texture": t, "start (white noise)": m.start, "Gram-matched": m.image,
              "shuffled pixels": shuffled, "fresh draw": ev["fresh"]}
    fig, axes = plt.subplots(1, len(panels), figsize=(2 * len(panels), 2.3))
    for ax, (title, x) in zip(axes, panels.items(), strict=True):
        ax.imshow(x.detach()[0].clamp(0, 1).permute(1, 2, 0).numpy(), interpolation="nearest")
        ax.set_title(title, fontsize=8)
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(out_dir / "texture_synthesis.png", dpi=100)
    plt.close(fig)
    return [{"file": "texture_synthesis.png", "paper_figure": "Fig. 1",
             "caption": "An image optimised from white noise to match the Gram matrices of a "
             "random-weight VGG-shaped net on the target texture (Eq. 3-5), next to the "
             "target's pixels shuffled (same histogram) and a fresh draw of the texture."}]


# --- claims --------------------------------------------------------------------------------


def _ratio(m, v, a, b):
    return m[v][a] / m[v][b]


CLAIMS = [
    Claim(
        id="gram-matching-synthesises-texture",
        text="Gradient descent on the pixels of a white-noise image lowers the Gram-matrix "
        "distance (Eq. 4-5, summed over the random net's 4 layers) to the target texture by at "
        "least 100x.",
        paper="style reconstructions: images generated from white noise that match the style "
        "representation (Gram matrices) of increasing subsets of layers",
        source="Fig. 1, Eq. 3-5",
        margins=lambda m: {"white-noise start": math.log10(
            _ratio(m, "main", "gram_distance_start", "gram_distance")) - 2},
        measured=lambda m: f"Gram distance {m['main']['gram_distance_start']:.3g} -> "
        f"{m['main']['gram_distance']:.3g}",
    ),
    Claim(
        id="gram-statistics-carry-the-texture",
        text="The synthesised image's power spectrum and gradient-orientation histogram are at "
        "least 2x (spectrum) and 1.3x (orientation) closer to the target's than those of the "
        "target's own pixels shuffled (same pixel histogram): the Gram matrices carry spatial "
        "structure, not only colour statistics.",
        paper="the style representation captures the texture information of the input, not "
        "the global arrangement",
        source="Fig. 1",
        margins=lambda m: {
            "shuffled pixels (spectrum)": m["shuffled pixels"]["spectrum_distance"]
            / m["main"]["spectrum_distance"] - 2,
            "shuffled pixels (orientation)": m["shuffled pixels"]["orientation_distance"]
            / m["main"]["orientation_distance"] - 1.3},
        measured=lambda m: "spectrum / orientation distance to the target: synthesis "
        f"{m['main']['spectrum_distance']:.3f} / {m['main']['orientation_distance']:.3f}, "
        f"shuffled {m['shuffled pixels']['spectrum_distance']:.3f} / "
        f"{m['shuffled pixels']['orientation_distance']:.3f}, fresh draw "
        f"{m['fresh sample']['spectrum_distance']:.3f} / "
        f"{m['fresh sample']['orientation_distance']:.3f}",
    ),
    Claim(
        id="artistic-style-transfer",
        text="With ImageNet-trained VGG-19 features, one image can carry the content of a "
        "photograph and the style of a painting, traded off by alpha / beta.",
        paper="the Neckarfront photograph rendered in the styles of five artworks; "
        "alpha / beta from 1e-5 to 1e-2",
        source="Fig. 2, Fig. 3",
        needs="preset paper with ImageNet-pretrained VGG-19 weights and a content and a style "
        "image (data_root)",
    ),
    Claim(
        id="feed-forward-is-faster",
        text="Stylising a held-out 32x32 photo with the trained network takes at least 20x less "
        "time than per-image optimisation of the same loss (Adam from the content image, "
        "targets precomputed) takes to reach the network's loss, timed in the same run.",
        paper="our method is three orders of magnitude faster than the optimisation-based "
        "baseline (up to 1060x at 256x256)",
        source="Table 1, Sec. 4.1",
        margins=lambda m: {"per-image optimisation": m["main"]["speedup"] / 20 - 1},
        measured=lambda m: f"network {1e3 * m['main']['net_seconds']:.1f} ms, optimisation "
        f"{1e3 * m['main']['optimisation_seconds_to_match']:.0f} ms to match "
        f"({m['main']['speedup']:.0f}x; reached in "
        f"{100 * m['main']['optimisation_reached_fraction']:.0f}% of images)",
        presets=("mini-johnson",),
    ),
    Claim(
        id="feed-forward-comparable-loss",
        text="Not expected in miniature (1 of 5 seeds in the sweep): the network's loss on "
        "held-out photos is within 1.5x of what 150 steps of per-image optimisation reach and "
        "at most a fifth of the unstylised content image's. After 300 training steps it is "
        "always far below the photo's but 1.2-5x the optimisation's: a longer-trained network "
        "would be needed.",
        paper="our method achieves a loss comparable to 50 to 100 iterations of explicit "
        "optimisation",
        source="Sec. 4.1",
        margins=lambda m: {
            "per-image optimisation": 1.5 - _ratio(m, "main", "net_loss",
                                                   "optimisation_final_loss"),
            "identity (content image)": 1 - 5 * _ratio(m, "main", "net_loss", "identity_loss")},
        measured=lambda m: f"loss: network {m['main']['net_loss']:.3g}, optimisation "
        f"{m['main']['optimisation_final_loss']:.3g}, content image "
        f"{m['main']['identity_loss']:.3g}",
        presets=("mini-johnson",),
        expected=False,
    ),
    Claim(
        id="in-contrast-invariance",
        text="With instance norm the stylised image barely changes when the content photo's "
        "contrast is halved: the change is at most a tenth of the batch-norm network's.",
        paper="the result of stylisation should not, in general, depend on the contrast of the "
        "content image; instance normalisation builds this invariance into the generator",
        source="Sec. 2, Eq. 4",
        margins=lambda m: {"bn": 1 - 10 * m["in"]["contrast_change"] / m["bn"]["contrast_change"]},
        measured=lambda m: f"relative change of the output: IN {m['in']['contrast_change']:.4f}, "
        f"BN {m['bn']['contrast_change']:.4f}",
        presets=("mini-in",),
    ),
    Claim(
        id="in-lower-style-loss",
        text="On held-out photos the instance-norm network's style loss is at least 10% lower "
        "than the batch-norm network's, same steps and data (the total loss, content "
        "included, is reported alongside).",
        paper="replacing batch normalisation with instance normalisation significantly improves "
        "the quality of the stylised images",
        source="Abstract, Sec. 2",
        margins=lambda m: {"bn": 0.9 - m["in"]["style_loss"] / m["bn"]["style_loss"]},
        measured=lambda m: f"style loss IN {m['in']['style_loss']:.3g}, BN "
        f"{m['bn']['style_loss']:.3g}; total IN {m['in']['test_loss']:.3g}, BN "
        f"{m['bn']['test_loss']:.3g}",
        presets=("mini-in",),
    ),
    Claim(
        id="adain-unseen-styles",
        text="Not expected in miniature (1 of 5 seeds in the sweep): one decoder, trained with "
        "AdaIN on styles of one family, transfers styles of another (other orientations and "
        "colours): their style loss (Eq. 13's statistics) is at least 20% below the content "
        "photo's and the photo shifted to the style's mean colour. It always beats the photo, "
        "but the decoder trained on red styles does not carry blue ones over, and the mean-"
        "colour shift wins on 4 of 5 seeds.",
        paper="AdaIN transfers arbitrary new styles in real time, with no restriction to a "
        "pre-defined set of styles",
        source="Sec. 1, Sec. 5",
        margins=lambda m: {
            "identity (content image)": 1 - _ratio(m, "main", "unseen_style_loss",
                                                   "identity_style_loss") / 0.8,
            "mean colour": 1 - _ratio(m, "main", "unseen_style_loss",
                                      "mean_colour_style_loss") / 0.8},
        measured=lambda m: f"style loss: unseen styles {m['main']['unseen_style_loss']:.3g} "
        f"(training styles {m['main']['seen_style_loss']:.3g}), content photo "
        f"{m['main']['identity_style_loss']:.3g}, mean colour "
        f"{m['main']['mean_colour_style_loss']:.3g}",
        presets=("mini-adain",),
        expected=False,
    ),
    Claim(
        id="adain-speed-and-quality",
        text="With a VGG-19 encoder, AdaIN stylises arbitrary styles about as fast as Johnson's "
        "single-style networks and reaches style and content losses close to theirs.",
        paper="speed comparable to the fastest single-style feed-forward methods, orders of "
        "magnitude faster than Gatys et al.'s optimisation",
        source="Table 1, Fig. 3",
        needs="preset paper-adain with ImageNet-pretrained VGG-19, trained on MS-COCO and "
        "WikiArt (data_root)",
    ),
]
