"""A Style-Based Generator Architecture for Generative Adversarial Networks (Karras, Laine & Aila,
2019): StyleGAN.

https://arxiv.org/abs/1812.04948

The latent z is not fed to the first layer. A mapping network f (8 fully connected layers)
turns it into an intermediate latent w in W; learned affine maps A specialise w into styles
y = (y_s, y_b) that control adaptive instance normalisation (AdaIN, Eq. 1) after each
convolution of the synthesis network g, which starts from a learned constant 4x4x512 tensor.
Per-pixel noise is added after each convolution, scaled per channel by learned factors B
(Sec. 2, Fig. 1b). Styles of two latents can be mixed at a crossover layer (Sec. 3.1): styles
of coarse resolutions then decide pose and shape, fine ones colour and micro-structure.

Presets:
- `paper`: the FFHQ 1024x1024 generator of Sec. 2 (mapping 8 x 512, 18 styled layers, channels
  min(8192 / 2^stage, 512) as in Progressive GAN, a toRGB per resolution as progressive growing
  trains them): 26,219,627 parameters (Sec. 2: "26.2M"), and Progressive GAN's discriminator
  (23,087,249, with a fromRGB per resolution and the minibatch standard deviation layer):
  49,306,876 in all. The average w of the truncation trick (Appendix B) is a buffer, not a
  parameter. `paper-traditional`: the traditional generator of Fig. 1a (z -> FC -> 4x4x512,
  PixelNorm) with the same discriminator: 23,079,115 + 23,087,249 (Sec. 2: "23.1M").
- `mini`: 16x16 digits (scikit-learn's 8x8 digits, bundled with scikit-learn, BSD licence,
  upsampled bilinearly): a small style-based generator (mapping 8 x 64, 6 styled layers at 4, 8
  and 16 px with 32, 16 and 8 channels; 66,441 parameters) and a traditional generator of the
  same widths (50,745), each trained 600 steps of 32 against the same discriminator (34,713); a
  logistic regression fitted on real 8x8 digits (`gan.label_classifier`) judges the samples'
  classes. Measured: style mixing (Sec. 3.1), stochastic variation (Sec. 3.2), linear
  separability of the class in W and Z (Sec. 4.2), a judge-based perceptual path length
  (Sec. 4.1), and k-NN precision against a Gaussian fitted to the pixels. Expected to hold:
  shorter judge-based paths in W than in Z of the same generator. Not expected in a CPU minute
  (stated in the claims, with the seeds that failed): style mixing and separability (the
  style-based generator collapses or stays undertrained on some seeds in 600 steps), W beating
  the traditional generator's Z, noise changing details only, samples beating the Gaussian.
- `tiny`: a seconds-long smoke run.

Deviations from the paper:
- Both players step together on one forward pass (the trainer's GAN protocol, see `gan.py`);
  R1 (Appendix C) is applied every step, not lazily.
- Up-sampling is bilinear interpolation (the tuned baseline B of Table 1 uses bilinear
  filtering); the paper's 2x2 up-sampling followed by a [1 2 1] blur is close to it.
- `mini`'s judge-based path length and separability replace VGG16 features and the CelebA
  attribute classifiers of Sec. 4 by one logistic regression on digits.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from reproductions import gan
from reproductions.common.claims import Claim
from reproductions.style import mean_std

PAPER = "stylegan"

LINEAGE = {
    "gan": [("GAN", "StyleGAN", "The same two-player game (non-saturating loss, Appendix C), "
             "with a generator that takes z through a mapping network to styles instead of "
             "at its input (Sec. 2, Fig. 1)")],
    "style": [("adain", "AdaIN", "AdaIN's statistics come from learned affine maps of w, not "
               "from a style image's features (Eq. 1)")],
}


# --- blocks ------------------------------------------------------------------------------------
GAIN = math.sqrt(2)  # He et al.'s gain for layers followed by a (leaky) ReLU


class EqualizedLinear(nn.Module):
    """y = (c w) x + b with w ~ N(0, 1) stored and c = gain lr_mul / sqrt(fan_in) applied at run
    time (equalized learning rate of Progressive GAN, used throughout, Appendix C); lr_mul = 0.01
    for the mapping network (Appendix C)."""

    def __init__(self, d_in: int, d_out: int, lr_mul: float = 1.0, gain: float = GAIN):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(d_out, d_in) / lr_mul)
        self.bias = nn.Parameter(torch.zeros(d_out))
        self.scale, self.lr_mul = gain * lr_mul / math.sqrt(d_in), lr_mul

    def forward(self, x):  # (B, d_in)
        return F.linear(x, self.weight * self.scale, self.bias * self.lr_mul)  # (B, d_out)


class EqualizedConv2d(nn.Module):
    """A k x k convolution with the equalized learning rate ('same' padding)."""

    def __init__(self, c_in: int, c_out: int, k: int, bias: bool = True, gain: float = GAIN):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(c_out, c_in, k, k))
        self.bias = nn.Parameter(torch.zeros(c_out)) if bias else None
        self.scale = gain / math.sqrt(c_in * k * k)

    def forward(self, x):  # (B, C_in, H, W)
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.weight.shape[-1] // 2)


def pixel_norm(x: torch.Tensor, dim: int = 1) -> torch.Tensor:
    """x / sqrt(mean(x^2) + eps) over channels (Progressive GAN's PixelNorm; z's normalisation)."""
    return x * torch.rsqrt(x.pow(2).mean(dim, keepdim=True) + 1e-8)


def upsample(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)  # (B, C, 2H, 2W)


class MappingNetwork(nn.Module):
    """f: Z -> W, an 8-layer MLP with leaky ReLUs (Sec. 2, Fig. 1b), z normalised first."""

    def __init__(self, cfg: Config):
        super().__init__()
        dims = [cfg.z_dim] + [cfg.w_dim] * cfg.mapping_layers
        self.layers = nn.ModuleList(EqualizedLinear(a, b, lr_mul=cfg.mapping_lr_mul)
                                    for a, b in zip(dims[:-1], dims[1:], strict=True))

    def forward(self, z):  # (B, z_dim)
        w = pixel_norm(z)
        for layer in self.layers:
            w = F.leaky_relu(layer(w), 0.2)
        return w  # (B, w_dim)


class AdaIN(nn.Module):
    """AdaIN(x_i, y) = y_s,i (x_i - mu(x_i)) / sigma(x_i) + y_b,i (Eq. 1), y = A(w) a learned
    affine map ("A" in Fig. 1b; y_s starts at 1)."""

    def __init__(self, channels: int, w_dim: int):
        super().__init__()
        self.affine = EqualizedLinear(w_dim, 2 * channels, gain=1.0)
        with torch.no_grad():
            self.affine.bias[:channels] = 1.0

    def forward(self, x, w):  # (B, C, H, W), (B, w_dim)
        y_s, y_b = self.affine(w)[:, :, None, None].chunk(2, dim=1)  # each (B, C, 1, 1)
        mu, sigma = mean_std(x)
        return y_s * (x - mu) / sigma + y_b


class NoiseInput(nn.Module):
    """A single-channel Gaussian noise image broadcast to all feature maps, scaled by learned
    per-channel factors ("B" in Fig. 1b; Sec. 3.2); `noise` fixes it (stochastic variation)."""

    def __init__(self, channels: int):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(channels))

    def forward(self, x, noise=None):  # (B, C, H, W)
        if noise is None:
            noise = torch.randn(len(x), 1, *x.shape[2:], device=x.device, dtype=x.dtype)
        return x + self.weight.view(1, -1, 1, 1) * noise


class StyleLayer(nn.Module):
    """[up-sample] -> conv 3x3 -> + B(noise) -> bias, leaky ReLU -> AdaIN(A(w)) (Fig. 1b); the
    first layer has no convolution: it styles the learned constant."""

    def __init__(self, c_in: int, c_out: int, w_dim: int, conv: bool, up: bool, noise: bool):
        super().__init__()
        self.up = up
        self.conv = EqualizedConv2d(c_in, c_out, 3, bias=False) if conv else None
        self.noise = NoiseInput(c_out) if noise else None
        self.bias = nn.Parameter(torch.zeros(c_out))
        self.adain = AdaIN(c_out, w_dim)

    def forward(self, x, w, noise=None):  # (B, C_in, H, W), (B, w_dim)
        if self.up:
            x = upsample(x)
        if self.conv is not None:
            x = self.conv(x)
        if self.noise is not None:
            x = self.noise(x, noise)
        x = F.leaky_relu(x + self.bias.view(1, -1, 1, 1), 0.2)
        return self.adain(x, w)  # (B, C_out, H', W')


def widths(cfg: Config) -> list[int]:
    """Channels at 4x4, 8x8, ..., resolution: min(fmap_base / 2^stage, fmap_max) (Progressive GAN's
    Table 2, kept by StyleGAN: 512 up to 32x32, then 256, 128, 64, 32, 16)."""
    stages = int(math.log2(cfg.resolution)) - 1
    return [min(cfg.fmap_base // 2 ** s, cfg.fmap_max) for s in range(1, stages + 1)]


def to_rgb_layers(cfg: Config, chans: list[int], from_rgb: bool = False) -> nn.ModuleList:
    """1x1 convolutions between features and pixels, one per resolution when trained with
    progressive growing (the paper's count includes them all), else the last one only."""
    keep = chans if cfg.progressive_rgb else chans[-1:]
    return nn.ModuleList(EqualizedConv2d(cfg.image_channels, c, 1) if from_rgb
                         else EqualizedConv2d(c, cfg.image_channels, 1, gain=1.0) for c in keep)


class SynthesisNetwork(nn.Module):
    """g: the learned constant 4x4 input, two styled layers per resolution (18 at 1024^2)."""

    def __init__(self, cfg: Config):
        super().__init__()
        chans = widths(cfg)
        self.const = nn.Parameter(torch.ones(1, chans[0], 4, 4))  # Sec. 2: "learned constant"
        layers = [StyleLayer(chans[0], chans[0], cfg.w_dim, False, False, cfg.noise),
                  StyleLayer(chans[0], chans[0], cfg.w_dim, True, False, cfg.noise)]
        for c_in, c_out in zip(chans[:-1], chans[1:], strict=True):
            layers += [StyleLayer(c_in, c_out, cfg.w_dim, True, True, cfg.noise),
                       StyleLayer(c_out, c_out, cfg.w_dim, True, False, cfg.noise)]
        self.layers = nn.ModuleList(layers)
        self.to_rgb = to_rgb_layers(cfg, chans)

    def forward(self, ws, noise=None):  # (B, L, w_dim): one w per layer (L = 2 log2(res) - 2)
        x = self.const.expand(len(ws), -1, -1, -1)  # (B, C, 4, 4)
        for i, layer in enumerate(self.layers):
            x = layer(x, ws[:, i], None if noise is None else noise[i])
        return self.to_rgb[-1](x)  # (B, image_channels, res, res)


# --- config ------------------------------------------------------------------------------------
@dataclass
class Config:
    seed: int = 0
    steps: int = 25_000  # notional: the authors' run shows D 25M real images, growing progressively
    batch_size: int = 32  # the authors' minibatch shrinks as the resolution grows; one value here
    lr: float = 0.0015  # the authors' config: 0.0015 from 128^2, rising with resolution (Adam)
    data_root: str | None = None  # FFHQ (not bundled; Appendix A)
    dataset: Literal["ffhq", "digits"] = "ffhq"
    generator: Literal["style", "traditional"] = "style"  # Fig. 1b / Fig. 1a
    resolution: int = 1024
    image_channels: int = 3
    z_dim: int = 512  # Sec. 2: Z and W are 512-dimensional
    w_dim: int = 512
    mapping_layers: int = 8  # Sec. 2; Table 4 varies it
    mapping_lr_mul: float = 0.01  # Appendix C: mapping network's learning rate lambda' = 0.01 lambda
    fmap_base: int = 8192  # channels min(fmap_base / 2^stage, fmap_max) (Progressive GAN)
    fmap_max: int = 512
    noise: bool = True  # Table 1 E: noise inputs
    progressive_rgb: bool = True  # a toRGB / fromRGB per resolution (progressive growing)
    mixing_prob: float = 0.9  # Sec. 3.1, Table 1 F: mixing regularization on 90% of images
    r1_gamma: float = 10.0  # Appendix C: R1 with gamma = 10 on FFHQ
    mbstd_group: int = 4  # Progressive GAN's minibatch standard deviation layer in D
    w_avg_beta: float = 0.995  # running mean of w for the truncation trick (Appendix B)
    num_samples: int = 1000  # generated samples per evaluation
    compare: bool = False  # mini: train the style-based and the traditional generator


# --- model -------------------------------------------------------------------------------------
class StyleGenerator(nn.Module):
    """f and g (Fig. 1b); `w_avg` is the mean w of the truncation trick (Appendix B)."""

    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg, self.mapping, self.synthesis = cfg, MappingNetwork(cfg), SynthesisNetwork(cfg)
        self.num_layers = len(self.synthesis.layers)  # 18 at 1024^2
        self.register_buffer("w_avg", torch.zeros(cfg.w_dim))

    def styles(self, w, psi: float = 1.0):  # (B, w_dim) -> (B, L, w_dim)
        if psi != 1.0:
            w = self.w_avg + psi * (w - self.w_avg)  # w' = w_avg + psi (w - w_avg) (Appendix B)
        return w[:, None].expand(-1, self.num_layers, -1)

    def forward(self, z, mixing_prob: float = 0.0):  # (B, z_dim) -> (B, C, res, res)
        w = self.mapping(z)
        if self.training:
            with torch.no_grad():
                self.w_avg.lerp_(w.mean(0), 1 - self.cfg.w_avg_beta)
        ws = self.styles(w)
        if mixing_prob > 0 and torch.rand(()) < mixing_prob:  # Sec. 3.1: two latents, one crossover
            w2 = self.mapping(torch.randn_like(z))
            cut = int(torch.randint(1, self.num_layers, ()))
            ws = torch.cat([ws[:, :cut], self.styles(w2)[:, cut:]], 1)
        return self.synthesis(ws)


class TraditionalGenerator(nn.Module):
    """Fig. 1a (Progressive GAN): normalise z -> FC to 4x4 -> PixelNorm, then per resolution
    (up-sample ->) conv 3x3 -> leaky ReLU -> PixelNorm."""

    def __init__(self, cfg: Config):
        super().__init__()
        chans = widths(cfg)
        self.c0 = chans[0]
        self.fc_weight = nn.Parameter(torch.randn(chans[0] * 16, cfg.z_dim))  # equalized, as above
        self.fc_bias = nn.Parameter(torch.zeros(chans[0]))  # one bias per channel of the 4x4 map
        convs = [EqualizedConv2d(chans[0], chans[0], 3)]
        for c_in, c_out in zip(chans[:-1], chans[1:], strict=True):
            convs += [EqualizedConv2d(c_in, c_out, 3), EqualizedConv2d(c_out, c_out, 3)]
        self.convs = nn.ModuleList(convs)
        self.to_rgb = to_rgb_layers(cfg, chans)

    def forward(self, z, mixing_prob: float = 0.0):  # (B, z_dim) -> (B, C, res, res)
        x = F.linear(pixel_norm(z), self.fc_weight * GAIN / 4 / math.sqrt(z.shape[1]))  # (B, 16 C)
        x = x.view(len(z), self.c0, 4, 4) + self.fc_bias.view(1, -1, 1, 1)  # (B, C, 4, 4)
        x = pixel_norm(F.leaky_relu(x, 0.2))
        for i, conv in enumerate(self.convs):
            if i % 2 == 1:  # the first conv of each resolution above 4x4
                x = upsample(x)
            x = pixel_norm(F.leaky_relu(conv(x), 0.2))
        return self.to_rgb[-1](x)


class Discriminator(nn.Module):
    """Progressive GAN's D (StyleGAN keeps it, Sec. 2): fromRGB, two convs and a down-sampling per
    resolution, minibatch stddev, conv 3x3, FC, FC -> one logit."""

    def __init__(self, cfg: Config):
        super().__init__()
        chans = widths(cfg)[::-1]  # from the highest resolution down to 4x4
        self.group = cfg.mbstd_group
        self.from_rgb = to_rgb_layers(cfg, chans[::-1], from_rgb=True)
        self.blocks = nn.ModuleList(nn.ModuleList([EqualizedConv2d(a, a, 3), EqualizedConv2d(a, b, 3)])
                                    for a, b in zip(chans[:-1], chans[1:], strict=True))
        c = chans[-1]
        self.conv = EqualizedConv2d(c + 1, c, 3)
        self.fc = EqualizedLinear(c * 16, c)
        self.out = EqualizedLinear(c, 1, gain=1.0)

    def forward(self, x):  # (B, C, res, res)
        x = F.leaky_relu(self.from_rgb[-1](x), 0.2)
        for conv0, conv1 in self.blocks:
            x = F.leaky_relu(conv1(F.leaky_relu(conv0(x), 0.2)), 0.2)
            x = F.avg_pool2d(x, 2)  # (B, C', H/2, W/2)
        B, C, H, W = x.shape
        g = min(self.group, B) if B % min(self.group, B) == 0 else 1
        sd = x.view(g, -1, C, H, W).var(0, unbiased=False).add(1e-8).sqrt()  # (B/g, C, H, W)
        sd = sd.mean((1, 2, 3)).view(-1, 1, 1, 1).repeat(g, 1, H, W)  # (B, 1, H, W)
        x = F.leaky_relu(self.conv(torch.cat([x, sd], 1)), 0.2)  # (B, C, 4, 4)
        x = F.leaky_relu(self.fc(x.flatten(1)), 0.2)
        return self.out(x).squeeze(1)  # (B,)


class StyleGAN(nn.Module):
    """The generator (style-based or traditional) and the discriminator."""

    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        make = StyleGenerator if cfg.generator == "style" else TraditionalGenerator
        self.generator, self.discriminator = make(cfg), Discriminator(cfg)

    def latents(self, n: int) -> torch.Tensor:
        return torch.randn(n, self.cfg.z_dim, device=self.discriminator.out.weight.device)


def build_model(cfg: Config) -> StyleGAN:
    return StyleGAN(cfg)


def build_optimizer(model: StyleGAN, cfg: Config):
    """[G's Adam, D's Adam], beta1 = 0, beta2 = 0.99 (Appendix C, after Progressive GAN)."""
    make = lambda m: torch.optim.Adam(m.parameters(), lr=cfg.lr, betas=(0.0, 0.99), eps=1e-8)  # noqa: E731
    return [make(model.generator), make(model.discriminator)], None


# --- presets -----------------------------------------------------------------------------------
MINI = dict(dataset="digits", resolution=16, image_channels=1, z_dim=64, w_dim=64, fmap_base=64,
            fmap_max=32, progressive_rgb=False, r1_gamma=1.0, lr=6e-3, batch_size=32)

PRESETS: dict[str, Config] = {
    "paper": Config(),  # G 26,219,627 (Sec. 2: 26.2M) + D 23,087,249 = 49,306,876
    "paper-traditional": Config(generator="traditional"),  # G 23,079,115 (Sec. 2: 23.1M) + D
    "mini": Config(**MINI, steps=600, compare=True),  # G 66,441 (style) / 50,745; D 34,713
    "tiny": Config(**{**MINI, "fmap_base": 16, "fmap_max": 8, "z_dim": 8, "w_dim": 8,
                      "batch_size": 8}, steps=3, num_samples=64, compare=True),
}


def variants(cfg: Config) -> dict[str, Config]:
    """`style` and `traditional` with the same discriminator, steps and data (with `compare`)."""
    base = dataclasses.replace(cfg, compare=False)
    if not cfg.compare:
        return {"main": base}
    return {"style": dataclasses.replace(base, generator="style"),
            "traditional": dataclasses.replace(base, generator="traditional")}


# --- data --------------------------------------------------------------------------------------
def digits16(cfg: Config):
    """scikit-learn's digits upsampled bilinearly to 16x16, in [-1, 1]: (N, 1, 16, 16) train and
    test, with labels (the same split as `gan.digits_split`)."""
    xtr, ytr, xte, yte = gan.digits_split(cfg.seed)
    up = lambda x: F.interpolate(x.view(-1, 1, 8, 8), size=cfg.resolution, mode="bilinear",  # noqa: E731
                                 align_corners=False) * 2 - 1
    return up(xtr), ytr, up(xte), yte


def build_data(cfg: Config):
    from reproductions.common import data

    if cfg.dataset != "digits":
        from reproductions.common.config import ConfigError
        raise ConfigError("the paper presets need FFHQ (Appendix A), which is not bundled; "
                          "train `mini` (dataset=digits)")
    xtr, ytr, xte, yte = digits16(cfg)
    return data.tensor_loader(xtr, ytr, cfg.batch_size, cfg.seed), {"train": (xtr, ytr),
                                                                    "test": (xte, yte)}


# --- step --------------------------------------------------------------------------------------
def training_step(model: StyleGAN, batch) -> dict:
    """Non-saturating logistic loss with R1 on real images (Appendix C); `losses` = [G's, D's]."""
    x, _ = batch  # (B, C, H, W) in [-1, 1]
    cfg = model.cfg
    fake = model.generator(model.latents(len(x)), cfg.mixing_prob if model.training else 0.0)
    r1 = torch.zeros(())
    if cfg.r1_gamma and torch.is_grad_enabled():  # gamma/2 E ||grad D(x)||^2 (Mescheder et al.)
        x = x.detach().requires_grad_(True)
    real_out, fake_out = model.discriminator(x), model.discriminator(fake)
    if cfg.r1_gamma and torch.is_grad_enabled():
        (grad,) = torch.autograd.grad(real_out.sum(), x, create_graph=True)
        r1 = grad.pow(2).sum((1, 2, 3)).mean()
    loss_d = F.softplus(fake_out).mean() + F.softplus(-real_out).mean() + cfg.r1_gamma / 2 * r1
    loss_g = F.softplus(-fake_out).mean()
    return {"loss": loss_d, "losses": [loss_g, loss_d], "loss_g": loss_g.detach(),
            "r1": r1.detach()}


# --- evaluation --------------------------------------------------------------------------------
def to_digits8(x: torch.Tensor) -> torch.Tensor:
    """16x16 images in [-1, 1] -> the judge's input: 8x8 in [0, 1], flattened (N, 64)."""
    return ((F.avg_pool2d(x.float(), x.shape[-1] // 8) + 1) / 2).clamp(0, 1).flatten(1).cpu()


class Judge:
    """`gan.label_classifier`: logistic regression fitted on real 8x8 training digits (fitted once
    per process: the split does not depend on the seed)."""

    def __init__(self, cfg: Config):
        self.model = _label_classifier(cfg.seed)

    def proba(self, x: torch.Tensor) -> torch.Tensor:
        return torch.as_tensor(self.model.predict_proba(to_digits8(x).numpy())).float()

    def labels(self, x: torch.Tensor) -> torch.Tensor:
        return self.proba(x).argmax(1)


@functools.lru_cache(maxsize=1)
def _label_classifier(seed: int):
    from threadpoolctl import threadpool_limits  # scikit-learn's dependency: BLAS on one thread

    with threadpool_limits(1):
        return gan.label_classifier(Config(seed=seed))


def precision(fake: torch.Tensor, real: torch.Tensor, k: int = 3) -> float:
    """Share of samples inside some real image's k-NN ball (Kynkaanniemi et al.'s precision, in
    pixel space): samples off the data manifold count 0."""
    fake, real = fake.flatten(1).float().cpu(), real.flatten(1).float().cpu()
    radii = torch.cdist(real, real).kthvalue(k + 1, dim=1).values  # (N,): self is the 1st
    return (torch.cdist(fake, real) <= radii[None]).any(1).float().mean().item()


def separability(latents: torch.Tensor, proba: torch.Tensor) -> float:
    """Sec. 4.2: keep the judge's more confident half, fit a linear classifier per class to
    the latents, return exp(sum_i H(Y_i | X_i)) (Y_i the judge's "class i", X_i the linear
    classifier's): lower = the classes are more linearly separable in that space."""
    from sklearn.svm import LinearSVC
    from threadpoolctl import threadpool_limits

    conf, labels = proba.max(1)
    keep = conf.argsort(descending=True)[: len(conf) // 2]
    x, y = latents[keep].double().numpy(), labels[keep].numpy()
    total = 0.0
    for c in range(10):
        yc = y == c
        if yc.all() or not yc.any():
            continue
        with threadpool_limits(1):
            xc = LinearSVC(C=1.0, max_iter=5000).fit(x, yc).predict(x)
        for v in (False, True):
            sel = xc == v
            p_x = sel.mean()
            if p_x == 0:
                continue
            p = yc[sel].mean()
            h = -sum(q * math.log(q) for q in (p, 1 - p) if q > 0)
            total += p_x * h  # H(Y|X) = sum_x p(x) H(Y | X = x)
    return math.exp(total)


@torch.no_grad()
def path_length(model: StyleGAN, judge: Judge, n: int, space: str, eps: float = 1e-2) -> float:
    """Sec. 4.1, Eq. 2-3 with the judge's class probabilities in place of VGG16 features:
    E[d(g(lerp(w1, w2; t)), g(lerp(w1, w2; t + eps))) / eps^2], slerp in Z (Eq. 2), lerp in W
    (Eq. 3), d the squared distance of the probability vectors."""
    g = model.generator
    z1, z2, t = model.latents(n), model.latents(n), torch.rand(n, 1)
    if space == "w":
        w1, w2 = g.mapping(z1), g.mapping(z2)
        a, b = torch.lerp(w1, w2, t), torch.lerp(w1, w2, t + eps)
        img = lambda w: g.synthesis(g.styles(w), noise=fixed_noise(g, n))  # noqa: E731
    else:
        a, b = slerp(z1, z2, t), slerp(z1, z2, t + eps)
        img = lambda z: g(z) if isinstance(g, TraditionalGenerator) else g.synthesis(  # noqa: E731
            g.styles(g.mapping(z)), noise=fixed_noise(g, n))
    seed = torch.randint(1 << 30, ()).item()
    pa = judge.proba(_seeded(img, a, seed))
    pb = judge.proba(_seeded(img, b, seed))
    return ((pa - pb).pow(2).sum(1) / eps**2).mean().item()


def _seeded(fn, x, seed):
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return fn(x)


def slerp(a, b, t):  # (B, D), (B, D), (B, 1): spherical interpolation of normalised vectors
    a, b = F.normalize(a, dim=1), F.normalize(b, dim=1)
    omega = torch.acos((a * b).sum(1, keepdim=True).clamp(-1 + 1e-7, 1 - 1e-7))
    return (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)


def fixed_noise(g: StyleGenerator, n: int):
    """One noise image per styled layer, shared by every sample of a comparison: (n, 1, H, W)."""
    sizes = [4 * 2 ** (i // 2) for i in range(g.num_layers)]
    return [torch.randn(1, 1, s, s).expand(n, -1, -1, -1) for s in sizes]


@torch.no_grad()
def style_metrics(model: StyleGAN, judge: Judge, n: int) -> dict[str, float]:
    """Sec. 3.1 (style mixing): images of source A with the coarse styles (4x4 and 8x8 layers)
    of source B; how often the judge's class follows B (coarse) vs A (fine styles). Sec. 3.2
    (stochastic variation): the same w with fresh noise keeps its class."""
    g = model.generator
    w_a, w_b = g.mapping(model.latents(n)), g.mapping(model.latents(n))
    noise = fixed_noise(g, n)
    s_a, s_b = g.styles(w_a), g.styles(w_b)
    cut = 4  # layers 0-3: the 4x4 and 8x8 resolutions ("coarse" here); 4-5: 16x16 ("fine")
    x_a, x_b = g.synthesis(s_a, noise), g.synthesis(s_b, noise)
    x_mix = g.synthesis(torch.cat([s_b[:, :cut], s_a[:, cut:]], 1), noise)
    l_a, l_b, l_mix = judge.labels(x_a), judge.labels(x_b), judge.labels(x_mix)
    differ = l_a != l_b
    x_renoised = g.synthesis(s_a, fixed_noise(g, n))  # same styles, other noise
    noise_change = (x_renoised - x_a).abs().mean().item()
    latent_change = (x_b - x_a).abs().mean().item()
    return {
        "mix_follows_coarse": (l_mix == l_b)[differ].float().mean().item(),
        "mix_follows_fine": (l_mix == l_a)[differ].float().mean().item(),
        "noise_keeps_class": (judge.labels(x_renoised) == l_a).float().mean().item(),
        "noise_pixel_change_ratio": noise_change / latent_change,
    }


@torch.no_grad()
def evaluate(model: StyleGAN, eval_data, cfg: Config) -> dict[str, float]:
    judge, n = Judge(cfg), cfg.num_samples
    g = model.generator
    z = model.latents(n)
    fake = g(z)
    proba = judge.proba(fake)
    labels = proba.argmax(1)
    classes = torch.bincount(labels, minlength=10).float() / n
    out = {"precision": precision(fake, eval_data["train"][0]),
           "judge_confidence": proba.max(1).values.mean().item(),
           "classes_covered": (classes >= 0.02).sum().item(),
           "separability_z": separability(z.cpu(), proba),
           "path_length_z": path_length(model, judge, n, "z")}
    if isinstance(g, StyleGenerator):
        out |= {"separability_w": separability(g.mapping(z).cpu(), proba),
                "path_length_w": path_length(model, judge, n, "w"),
                **style_metrics(model, judge, n)}
    return out


def baselines(cfg: Config) -> dict[str, dict[str, float]]:
    """A Gaussian with the training pixels' mean and covariance (in the 8x8 space the digits
    come from, then upsampled like them), scored by the same precision and judge."""
    if cfg.dataset != "digits":
        return {}
    xtr, _, _, _ = digits16(cfg)
    x8 = to_digits8(xtr).double()  # (N, 64) in [0, 1]
    mean, cov = x8.mean(0), torch.cov(x8.T) + 1e-6 * torch.eye(64, dtype=torch.float64)
    gen = torch.Generator().manual_seed(cfg.seed)
    s = (mean + torch.randn(cfg.num_samples, 64, generator=gen, dtype=torch.float64)
         @ torch.linalg.cholesky(cov).T).float().clamp(0, 1)
    fake = F.interpolate(s.view(-1, 1, 8, 8), size=cfg.resolution, mode="bilinear",
                         align_corners=False) * 2 - 1
    proba = Judge(cfg).proba(fake)
    return {"Gaussian pixels": {"precision": precision(fake, xtr),
                                "judge_confidence": proba.max(1).values.mean().item()}}


# --- claims ------------------------------------------------------------------------------------
def _m(m, name: str, key: str) -> float:
    return m[name][key]


def _log_ratio(m, a, key_a, b, key_b, factor: float) -> float:
    """log(b / a) - log(factor): positive when a is lower than b by more than `factor` times."""
    return math.log(_m(m, b, key_b) / _m(m, a, key_a)) - math.log(factor)


CLAIMS = [
    Claim("mini-path-length", "The mapping network makes W more linear than Z: in the same "
          "style-based generator, the judge-based perceptual path length (Sec. 4.1 with the "
          "judge's class probabilities for VGG16 features) is at least 1.2 times shorter along "
          "lines in W (Eq. 3) than along great circles in Z (Eq. 2): the same images, reached "
          "through a less curved space.",
          "W is not forced to follow a fixed distribution, so its factors of variation are "
          "more linear; path length is lower in W", "Sec. 4, Sec. 4.1",
          margins=lambda m: {"path length in Z": _log_ratio(m, "style", "path_length_w", "style",
                                                            "path_length_z", 1.2)},
          measured=lambda m: f"path length W {_m(m, 'style', 'path_length_w'):.2f}, Z "
          f"{_m(m, 'style', 'path_length_z'):.2f}"),
    Claim("mini-style-mixing", "Not expected in miniature: an image made with the coarse styles "
          "(4x4 and 8x8 layers) of latent B and the fine styles (16x16) of latent A takes B's "
          "class, as the judge reads it, at least 0.3 more often than A's. It held on seeds 0 and "
          "4 (0.83 vs 0.03, 0.71 vs 0.07) but not on seeds 1-3: in 600 steps the style-based "
          "generator sometimes collapses to a few classes (seed 1: 2 classes, 0.26 vs 0.72) or "
          "stays undertrained (seeds 2-3: 0.45 vs 0.24, 0.44 vs 0.36).",
          "coarse styles (4^2-8^2) bring high-level aspects such as pose and face shape from "
          "source B; fine styles (64^2-1024^2) mainly the colour scheme and microstructure",
          "Sec. 3.1, Fig. 3",
          margins=lambda m: {"fine source": _m(m, "style", "mix_follows_coarse")
                             - _m(m, "style", "mix_follows_fine") - 0.3},
          measured=lambda m: f"class of the mix = coarse source "
          f"{_m(m, 'style', 'mix_follows_coarse'):.2f}, = fine source "
          f"{_m(m, 'style', 'mix_follows_fine'):.2f}",
          expected=False),
    Claim("mini-separability", "Not expected in miniature: the judge's classes are more linearly "
          "separable from w than from the z it came from (Sec. 4.2's exp(sum H(Y|X)) at least "
          "1.2 times lower in W). Held on seeds 0 and 3 (2.19 vs 3.55, 1.41 vs 3.68), not on "
          "seeds 1, 2, 4 (1.00 vs 1.00 for a generator collapsed to 2 classes; 8.96 vs 9.41; "
          "2.79 vs 2.95).",
          "separability is lower in W than in Z", "Sec. 4.2, Table 4",
          margins=lambda m: {"separability in Z": _log_ratio(m, "style", "separability_w",
                                                             "style", "separability_z", 1.2)},
          measured=lambda m: f"separability W {_m(m, 'style', 'separability_w'):.2f}, Z "
          f"{_m(m, 'style', 'separability_z'):.2f}",
          expected=False),
    Claim("mini-vs-traditional", "Not expected in miniature: the style-based generator's W beats "
          "the traditional generator's Z (Table 3's comparison) in both separability and path "
          "length. The path-length gap is confounded by diversity (a generator that collapsed to "
          "few classes has short paths) and separability overlaps from seed to seed (2.19 vs "
          "2.22 on seed 0, 8.96 vs 1.76 on seed 2).",
          "traditional generator (Z): path length 412.0, separability 10.78; the style-based "
          "generator's W is lower on both", "Table 3, Sec. 4",
          margins=lambda m: {
              "traditional separability": _log_ratio(m, "style", "separability_w",
                                                     "traditional", "separability_z", 1.0),
              "traditional path length": _log_ratio(m, "style", "path_length_w",
                                                    "traditional", "path_length_z", 1.0)},
          measured=lambda m: f"separability style W {_m(m, 'style', 'separability_w'):.2f}, "
          f"traditional Z {_m(m, 'traditional', 'separability_z'):.2f}; path length "
          f"{_m(m, 'style', 'path_length_w'):.2f} vs {_m(m, 'traditional', 'path_length_z'):.2f}",
          expected=False),
    Claim("mini-noise", "Not expected in miniature: re-drawing the noise inputs (Sec. 3.2) keeps "
          "the judge's class of 90% of images and changes the pixels less than half as much as "
          "another latent does. After 600 steps the noise still changes the class of many "
          "digits (about half on seed 0): the split of global effects from stochastic detail "
          "(Sec. 3.3) takes longer training to emerge.",
          "noise affects only inconsequential stochastic variation (hair, freckles), the "
          "overall composition stays intact", "Sec. 3.2, Fig. 4",
          margins=lambda m: {"class kept": _m(m, "style", "noise_keeps_class") - 0.9,
                             "another latent": 0.5 - _m(m, "style", "noise_pixel_change_ratio")},
          measured=lambda m: f"class kept {_m(m, 'style', 'noise_keeps_class'):.2f}, pixel "
          f"change vs another latent {_m(m, 'style', 'noise_pixel_change_ratio'):.2f}",
          expected=False),
    Claim("mini-quality", "Not expected in miniature: both generators' samples lie on the data "
          "manifold more often than samples of a Gaussian fitted to the pixels (k-NN precision "
          "at least 0.05 higher). 600 steps on a CPU give blurry digits (precision 0.1-0.2) "
          "that a full-covariance Gaussian, which matches the pixels' first two moments, "
          "equals or beats (0.26).",
          "FID on FFHQ 8.04 (traditional, A) -> 4.40 (style-based, F)", "Table 1",
          margins=lambda m: {f"{v} vs Gaussian pixels": _m(m, v, "precision")
                             - _m(m, "Gaussian pixels", "precision") - 0.05
                             for v in ("style", "traditional")},
          measured=lambda m: ", ".join(f"{v} {_m(m, v, 'precision'):.3f}" for v in (
              "style", "traditional", "Gaussian pixels")),
          expected=False),
    Claim("ffhq-fid", "On FFHQ at 1024x1024 the style-based generator with noise inputs and mixing "
          "regularization reaches FID 4.40 against 8.04 for the Progressive GAN baseline.",
          "FID 8.04 (A, baseline) -> 4.40 (F); CelebA-HQ 7.79 -> 5.17", "Table 1",
          needs="presets paper and paper-traditional trained on FFHQ (Appendix A; not bundled), "
          "25M images each, FID over 50k samples"),
    Claim("ffhq-disentanglement", "On FFHQ the style-based generator's W has shorter perceptual "
          "paths and better linear separability of CelebA attributes than the traditional "
          "generator's Z.", "traditional Z: path length 412.0, separability 10.78",
          "Table 3, Table 4",
          needs="presets paper and paper-traditional trained on FFHQ, VGG16 perceptual distance, "
          "40 CelebA-HQ attribute classifiers"),
]
