"""DataLoader settings for data decoded from files, and the real-data loaders that use them."""

from __future__ import annotations

import pytest
import torch

from reproductions.common import data as D
from reproductions.common.config import ConfigError


def test_loader_settings_come_from_the_cores_or_the_environment(monkeypatch):
    monkeypatch.delenv(D.WORKERS_ENV, raising=False)
    monkeypatch.setattr(D.os, "cpu_count", lambda: 16)
    assert D.loader_settings() == {"num_workers": 8, "pin_memory": torch.cuda.is_available(),
                                   "persistent_workers": True, "prefetch_factor": 4}
    monkeypatch.setattr(D.os, "cpu_count", lambda: 1)
    assert D.loader_settings()["num_workers"] == 0 and "persistent_workers" not in D.loader_settings()
    monkeypatch.setenv(D.WORKERS_ENV, "3")
    assert D.loader_settings()["num_workers"] == 3
    assert D.loader_settings(workers=0)["num_workers"] == 0  # the caller's choice wins
    monkeypatch.setenv(D.WORKERS_ENV, "four")
    with pytest.raises(ConfigError, match="REPRO_DATA_WORKERS='four': expected a number"):
        D.loader_settings()


def test_image_folder_loaders_decode_jpegs_in_worker_processes(tmp_path):
    from PIL import Image

    for part in ("train", "val"):
        for k in range(4):
            folder = tmp_path / part / f"c{k % 2}"
            folder.mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (40, 30), (60 * k, 20, 200)).save(folder / f"{k}.jpeg")
    train, val = D.image_folder_loaders(tmp_path, batch_size=2, seed=0, size=16, workers=1)
    assert train.num_workers == 1 and train.persistent_workers and train.prefetch_factor == 4
    x, y = next(iter(train))
    assert x.shape == (2, 3, 16, 16) and y.shape == (2,)
    assert sum(len(b[1]) for b in val) == 4
