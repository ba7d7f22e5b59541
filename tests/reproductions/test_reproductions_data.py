"""Real-data loading, on tiny files written in the datasets' real on-disk formats (MNIST idx
files, CIFAR-10 pickle batches): torchvision's readers parse them, nothing is downloaded."""

from __future__ import annotations

import dataclasses
import hashlib
import pickle
import struct

import numpy as np
import pytest
import torch
from torchvision.datasets import CIFAR10

from reproductions import alexnet, resnet
from reproductions.common import data as D
from reproductions.common.config import ConfigError


def write_mnist(root, n_train=6, n_test=4):
    """MNIST's raw idx files: big-endian magic (2051 images / 2049 labels), sizes, uint8 data.
    Image i is black with one white pixel at (i, i); its label is i % 10."""
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = np.zeros((n, 28, 28), dtype=np.uint8)
        for i in range(n):
            images[i, i, i] = 255
        labels = np.arange(n, dtype=np.uint8) % 10
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(
            struct.pack(">iiii", 2051, n, 28, 28) + images.tobytes())
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(struct.pack(">ii", 2049, n) + labels.tobytes())


def write_cifar10(root, monkeypatch, per_batch=3):
    """CIFAR-10's python batches: pickled dicts with `data` (N, 3072) uint8 rows laid out as
    1024 red, 1024 green, 1024 blue values, and `labels`. torchvision checks each file's md5, so
    the class's file lists are pointed at the md5s of these files."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)

    def dump(name, payload):
        blob = pickle.dumps(payload)
        (folder / name).write_bytes(blob)
        return [name, hashlib.md5(blob).hexdigest()]  # noqa: S324 (torchvision's own check)

    def batch(offset):
        data = np.zeros((per_batch, 3, 32, 32), dtype=np.uint8)
        data[:, 0, 0, 0] = 255  # red top-left pixel
        data[:, 2, 31, 31] = 128  # blue bottom-right pixel
        return {"data": data.reshape(per_batch, 3072), "labels": [(offset + i) % 10 for i in range(per_batch)]}

    train = [dump(f"data_batch_{k}", batch(k)) for k in range(1, 6)]
    test = [dump("test_batch", batch(0))]
    meta = dump("batches.meta", {"label_names": [f"class{k}" for k in range(10)]})
    monkeypatch.setattr(CIFAR10, "train_list", train)
    monkeypatch.setattr(CIFAR10, "test_list", test)
    monkeypatch.setattr(CIFAR10, "meta", {"filename": meta[0], "key": "label_names", "md5": meta[1]})


def test_mnist_idx_files_are_read_into_channel_first_floats(tmp_path):
    write_mnist(tmp_path)
    x, y = D.real_images("mnist", tmp_path, train=True)
    assert x.shape == (6, 1, 28, 28) and x.dtype == torch.float32
    assert y.tolist() == [0, 1, 2, 3, 4, 5]
    assert x[3, 0, 3, 3] == 1.0 and x[3].sum() == 1.0
    x_test, _ = D.real_images("mnist", tmp_path, train=False)
    assert x_test.shape == (4, 1, 28, 28)


def test_cifar10_pickle_batches_are_read_into_channel_first_floats(tmp_path, monkeypatch):
    write_cifar10(tmp_path, monkeypatch)
    x, y = D.real_images("cifar10", tmp_path, train=True)
    assert x.shape == (15, 3, 32, 32)  # five batches of three
    assert (x[:, 0, 0, 0] == 1.0).all() and (x[:, 2, 31, 31] == 128 / 255).all()
    assert x[:, 1].sum() == 0  # nothing in green: the channel order survived
    assert y[:3].tolist() == [1, 2, 3]


def test_missing_real_data_is_a_one_line_error_that_names_the_download_switch(tmp_path):
    with pytest.raises(ConfigError, match=r"mnist not found under .*download=True") as err:
        D.real_images("mnist", tmp_path / "empty", train=True)  # download=False: no network
    assert "\n" not in str(err.value)


def test_resnet_cifar_preset_trains_a_step_on_real_format_files(tmp_path, monkeypatch):
    write_cifar10(tmp_path, monkeypatch)
    cfg = dataclasses.replace(resnet.PRESETS["resnet20"], data_root=str(tmp_path), batch_size=4)
    train_batches, eval_data = resnet.build_data(cfg)
    x, y = next(iter(train_batches))
    assert x.shape == (4, 3, 32, 32)
    loss = resnet.training_step(resnet.build_model(cfg), (x, y))["loss"]
    assert torch.isfinite(loss)
    assert eval_data["test"][0].shape == (3, 3, 32, 32)


def test_alexnet_reads_real_mnist_when_data_root_is_set(tmp_path):
    write_mnist(tmp_path)
    cfg = dataclasses.replace(alexnet.PRESETS["tiny"], dataset="mnist", data_root=str(tmp_path))
    train_batches, eval_data = alexnet.build_data(cfg)
    x, _ = next(iter(train_batches))
    assert x.shape == (6, 1, 28, 28)  # fewer images than batch_size: one short batch
    assert eval_data["test"][0].shape == (4, 1, 28, 28)


def test_presets_that_need_real_data_say_so_without_data_root():
    with pytest.raises(ConfigError, match="data_root"):
        resnet.build_data(resnet.PRESETS["resnet20"])
    with pytest.raises(ConfigError, match="data_root"):
        alexnet.build_data(alexnet.PRESETS["paper"])


def test_the_bundled_datasets_load_without_any_download():
    xtr, ytr, xte, yte = D.digits()
    assert xtr.shape[1:] == (1, 8, 8) and len(ytr) + len(yte) == 1797
    assert 0.0 <= xtr.min() and xtr.max() <= 1.0
    xtr, ytr, xte, yte = D.mnist_5k()
    assert xtr.shape == (4000, 1, 28, 28) and len(yte) == 1000
    assert torch.bincount(yte).tolist() == [100] * 10  # stratified split
