"""CLIP on real image-caption pairs (`--set data_root=DIR`): the captions folder reader, its
one-line errors, the retrieval metric, and a `tiny` run through the CLI on generated PNG files.

Everything is written into `tmp_path`; nothing is downloaded.
"""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
from PIL import Image, ImageDraw

from reproductions import clip as C
from reproductions.cli import main as repro_main
from reproductions.common.captions import CaptionPairs, image_transform, read_captions
from reproductions.common.config import ConfigError
from reproductions.common.retrieval import retrieval_recall
from reproductions.common.shapes_captions import MINI_WORDS
from reproductions.common.text_tokenizers import tokenizer_for

COLOURS = {"red": (230, 30, 30), "green": (30, 200, 50), "blue": (40, 60, 240), "yellow": (240, 220, 30)}
SHAPES = ("circle", "square")


def write_pairs(folder, n: int, extra_lines: tuple[str, ...] = ()) -> list[str]:
    """`n` PNGs of a coloured shape (sizes vary, so resizing and cropping matter) and a
    captions.tsv naming them; the captions, in order."""
    (folder / "images").mkdir(parents=True)
    lines, captions = [], []
    for i in range(n):
        colour, shape = list(COLOURS)[i % 4], SHAPES[(i // 4) % 2]
        w, h = 24 + 4 * (i % 3), 20 + 2 * (i % 5)
        image = Image.new("RGB", (w, h), (120, 120, 120))
        box = (w // 4, h // 4, 3 * w // 4, 3 * h // 4)
        draw = ImageDraw.Draw(image)
        (draw.ellipse if shape == "circle" else draw.rectangle)(box, fill=COLOURS[colour])
        image.save(folder / "images" / f"{i:03d}.png")
        captions.append(f"a picture of a {colour} {shape}")
        lines.append(f"images/{i:03d}.png\t{captions[-1]}")
    (folder / "captions.tsv").write_text("\n".join([*lines, *extra_lines]) + "\n", encoding="utf-8")
    return captions


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    """32 training pairs and 8 val pairs plus a second caption for val image 0: 40 PNG files."""
    root = tmp_path_factory.mktemp("pairs")
    write_pairs(root / "train", 32)
    write_pairs(root / "val", 8, extra_lines=("images/000.png\tthe circle is red",))
    return root


def tiny_on(root, **changes) -> C.Config:
    return dataclasses.replace(C.PRESETS["tiny"], data_root=str(root), num_workers=0, **changes)


# --- the reader and the Dataset --------------------------------------------------------------
def test_loader_gives_normalised_images_and_the_presets_token_ids(data_root):
    cfg = tiny_on(data_root)
    loader, val = C.build_data(cfg)
    images, tokens = next(iter(loader))
    assert images.shape == (32, 3, 16, 16) and images.dtype == torch.float32
    assert tokens.shape == (32, 10) and tokens.dtype == torch.long
    assert len(val) == 9 and val.captions[-1] == "the circle is red"

    _, expected = val[3]  # val image 3: a yellow circle
    torch.testing.assert_close(expected, tokenizer_for(cfg, MINI_WORDS)(["a picture of a yellow circle"], 10)[0])
    # a solid colour survives resizing and cropping: (c / 255 - mean) / std per channel
    solid = data_root / "solid.png"
    Image.new("RGB", (40, 30), (255, 128, 0)).save(solid)
    pixels, _ = CaptionPairs([solid], ["x"], image_transform(16, C.CLIP_MEAN, C.CLIP_STD, train=True),
                             tokenizer_for(cfg, MINI_WORDS), 10)[0]
    want = [(c / 255 - m) / s for c, m, s in zip((255, 128, 0), C.CLIP_MEAN, C.CLIP_STD, strict=True)]
    torch.testing.assert_close(pixels.mean((1, 2)), torch.tensor(want), atol=1e-4, rtol=0)
    assert pixels.std((1, 2)).max() < 1e-4


def test_paper_presets_tokenize_captions_with_clips_bpe(data_root):
    cfg = dataclasses.replace(tiny_on(data_root), tokenizer="bpe", vocab_size=49408, context_length=77)
    _, val = C.build_data(cfg)
    _, tokens = val[0]
    assert tokens.shape == (77,)
    assert tokens[0] == 49406 and 49407 in tokens  # <start_of_text> ... <end_of_text>


def _error(tmp_path) -> str:
    with pytest.raises(ConfigError) as err:
        C.build_data(tiny_on(tmp_path))
    message = str(err.value)
    assert "\n" not in message
    return message


def test_missing_captions_file_is_named(tmp_path):
    write_pairs(tmp_path / "train", 32)
    (tmp_path / "val").mkdir()
    message = _error(tmp_path)
    assert str(tmp_path / "val" / "captions.tsv") in message and "<caption>" in message


def test_missing_split_folder_is_named(tmp_path):
    write_pairs(tmp_path / "train", 32)
    assert f"{tmp_path / 'val'} is not a folder" in _error(tmp_path)


def test_malformed_line_is_reported_with_file_and_line(tmp_path):
    write_pairs(tmp_path / "train", 32, extra_lines=("images/000.png a caption without a tab",))
    write_pairs(tmp_path / "val", 4)
    message = _error(tmp_path)
    assert f"{tmp_path / 'train' / 'captions.tsv'}:33: no tab" in message


def test_empty_caption_is_a_malformed_line(tmp_path):
    root = tmp_path / "val"
    root.mkdir()
    (root / "captions.tsv").write_text("image\tcaption\nsomething.png\t \n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"captions.tsv:2: empty caption"):
        read_captions(root)


def test_a_listed_image_that_does_not_exist_is_named(tmp_path):
    write_pairs(tmp_path / "train", 32, extra_lines=("images/missing.png\ta blue square",))
    write_pairs(tmp_path / "val", 4)
    message = _error(tmp_path)
    assert f"image {tmp_path / 'train' / 'images' / 'missing.png'} does not exist" in message


def test_captions_file_without_pairs_is_an_error(tmp_path):
    write_pairs(tmp_path / "train", 32)
    (tmp_path / "val").mkdir()
    (tmp_path / "val" / "captions.tsv").write_text("\n\n", encoding="utf-8")
    assert "holds no image-caption pairs" in _error(tmp_path)


def test_batch_larger_than_the_training_pairs_is_an_error(data_root):
    with pytest.raises(ConfigError, match="batch_size 64 exceeds the 32 training pairs"):
        C.build_data(tiny_on(data_root, batch_size=64))


# --- the retrieval metric --------------------------------------------------------------------
def test_retrieval_recall_is_one_for_identical_embeddings():
    emb = torch.randn(20, 8, generator=torch.Generator().manual_seed(0))
    recall = retrieval_recall(emb, emb.clone(), torch.arange(20))
    assert set(recall) == {"image_to_text_recall@1", "image_to_text_recall@5",
                           "text_to_image_recall@1", "text_to_image_recall@5"}
    assert all(v == 1.0 for v in recall.values())


def test_retrieval_recall_matches_a_hand_computed_case():
    # 3 images on the axes; 4 captions: 0 and 1 describe image 0, 2 image 1, 3 image 2
    images = torch.eye(3)
    texts = torch.tensor([[1.0, 0.1, 0.0],   # cosines to images (0.995, 0.0995, 0): image 0 first
                          [0.0, 0.6, 0.8],   # (0, 0.6, 0.8): images 2, 1; never its own
                          [0.0, 1.0, 0.0],   # (0, 1, 0): image 1 first
                          [0.9, 0.0, 0.5]])  # (0.874, 0, 0.486): images 0, 2; its own second
    recall = retrieval_recall(images, texts, torch.tensor([0, 0, 1, 2]), ks=(1, 2))
    assert recall["text_to_image_recall@1"] == pytest.approx(2 / 4)  # captions 0, 2
    assert recall["text_to_image_recall@2"] == pytest.approx(3 / 4)  # and 3
    # image 0's captions by cosine: 0 (own); image 1's: 2 (own); image 2's: 1 (0.8), then 3 (own)
    assert recall["image_to_text_recall@1"] == pytest.approx(2 / 3)
    assert recall["image_to_text_recall@2"] == pytest.approx(3 / 3)


# --- end to end ------------------------------------------------------------------------------
def test_tiny_run_on_a_captions_folder_reports_retrieval_recall(data_root, tmp_path, capsys):
    out = tmp_path / "run"
    code = repro_main(["run", "clip", "--preset", "tiny", "--set", f"data_root={data_root}",
                       "--out", str(out), "--quiet"])
    assert code == 0, capsys.readouterr()
    result = json.loads((out / "result.json").read_text())
    assert list(result["metrics"]) == ["main"]  # no shuffled-caption control on real data
    metrics = result["metrics"]["main"]
    for key in ("image_to_text_recall@1", "image_to_text_recall@5",
                "text_to_image_recall@1", "text_to_image_recall@5"):
        assert 0.0 <= metrics[key] <= 1.0
    assert metrics["text_to_image_recall@5"] >= metrics["text_to_image_recall@1"]
    assert "zero_shot_accuracy" not in metrics
    assert {c["verdict"] for c in result["claims"]} == {"not applicable"}
