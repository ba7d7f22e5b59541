"""Minimal, readable reproductions: one module per paper, one registry.

`REPRODUCTIONS` maps a name to its module; from a name to `nn.Module.__init__` is one hop.
`python -m reproductions run NAME --preset mini --out DIR` runs one (see `reproductions.cli`).
"""

from __future__ import annotations

from types import ModuleType

import reproductions.adam as adam
import reproductions.alexnet as alexnet  # one import line per reproduction
import reproductions.anogan as anogan
import reproductions.autoencoder as autoencoder
import reproductions.batchnorm as batchnorm
import reproductions.captions_pretrain as captions_pretrain
import reproductions.clip as clip
import reproductions.cornernet as cornernet
import reproductions.dcgan as dcgan
import reproductions.deeplab as deeplab
import reproductions.deepwalk as deepwalk
import reproductions.deformable as deformable
import reproductions.densenet as densenet
import reproductions.depth_anything as depth_anything
import reproductions.dropout as dropout
import reproductions.elmo as elmo
import reproductions.fairmot as fairmot
import reproductions.fcn as fcn
import reproductions.gan as gan
import reproductions.ganomaly as ganomaly
import reproductions.gcn as gcn
import reproductions.googlenet as googlenet
import reproductions.gpt as gpt
import reproductions.highway as highway
import reproductions.hourglass as hourglass
import reproductions.init as init
import reproductions.landscape as landscape
import reproductions.latent_diffusion as latent_diffusion
import reproductions.lenet as lenet
import reproductions.lstm as lstm
import reproductions.mae as mae
import reproductions.mask_rcnn as mask_rcnn
import reproductions.nin as nin
import reproductions.norms as norms
import reproductions.nplm as nplm
import reproductions.overfeat as overfeat
import reproductions.rcnn as rcnn
import reproductions.relu as relu
import reproductions.resnet as resnet
import reproductions.resnext as resnext
import reproductions.retinanet as retinanet
import reproductions.seq2seq as seq2seq
import reproductions.shattered as shattered
import reproductions.siamese as siamese
import reproductions.simclr as simclr
import reproductions.ssd as ssd
import reproductions.style as style
import reproductions.stylegan as stylegan
import reproductions.swin as swin
import reproductions.t5 as t5
import reproductions.textrank as textrank
import reproductions.transformer as transformer
import reproductions.tsne as tsne
import reproductions.unet as unet
import reproductions.unit as unit
import reproductions.vgg as vgg
import reproductions.vit as vit
import reproductions.wgan as wgan
import reproductions.word2vec as word2vec
import reproductions.yolo as yolo
import reproductions.zfnet as zfnet

# One line per reproduction; the key is the file name, `PAPER` inside is the papers.yaml id.
REPRODUCTIONS: dict[str, ModuleType] = {
    "alexnet": alexnet,
    "resnet": resnet,
    "vit": vit,
    "ssd": ssd,
    "ganomaly": ganomaly,
    "transformer": transformer,
    "init": init,
    "highway": highway,
    "shattered": shattered,
    "landscape": landscape,
    "adam": adam,
    "dropout": dropout,
    "batchnorm": batchnorm,
    "norms": norms,
    "lenet": lenet,
    "overfeat": overfeat,
    "vgg": vgg,
    "googlenet": googlenet,
    "densenet": densenet,
    "resnext": resnext,
    "relu": relu,
    "zfnet": zfnet,
    "nin": nin,
    "word2vec": word2vec,
    "lstm": lstm,
    "seq2seq": seq2seq,
    "nplm": nplm,
    "gcn": gcn,
    "deepwalk": deepwalk,
    "gpt": gpt,
    "swin": swin,
    "fcn": fcn,
    "unet": unet,
    "gan": gan,
    "autoencoder": autoencoder,
    "elmo": elmo,
    "textrank": textrank,
    "style": style,
    "siamese": siamese,
    "tsne": tsne,
    "rcnn": rcnn,
    "retinanet": retinanet,
    "yolo": yolo,
    "t5": t5,
    "unit": unit,
    "simclr": simclr,
    "deeplab": deeplab,
    "deformable": deformable,
    "hourglass": hourglass,
    "depth_anything": depth_anything,
    "mask_rcnn": mask_rcnn,
    "cornernet": cornernet,
    "captions_pretrain": captions_pretrain,
    "fairmot": fairmot,
    "latent_diffusion": latent_diffusion,
    "stylegan": stylegan,
    "mae": mae,
    "dcgan": dcgan,
    "anogan": anogan,
    "wgan": wgan,
    "clip": clip,
}


def get(name: str) -> ModuleType:
    try:
        return REPRODUCTIONS[name]
    except KeyError:
        known = ", ".join(sorted(REPRODUCTIONS)) or "none"
        raise KeyError(f"unknown reproduction '{name}'; available: {known}") from None
