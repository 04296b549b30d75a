"""A small chest-x-ray-like data set on disk, made procedurally, for the image walkthrough.

It has what a real one has and a tutorial needs offline: grey PNG files of several sizes, a
manifest whose 14 finding columns hold 1, 0, blank (not annotated) and −1 (uncertain), and
several images per patient, who share their anatomy (so a split that puts one patient on two
sides leaks). Findings share their visual primitives (four kinds of mark, at places of the two
lungs) and co-occur through a per-patient severity, so one network for all findings has
something to share; an uncertain label is a faint mark, present more often than not.

Cardiomegaly is an enlarged heart: the manifest's ``heart_width`` (cm, measured on a share of
the images, blank on the rest) is the intermediate z of a staged pipeline, image → heart width
→ cardiomegaly (width above ``CARDIOMEGALY_CM``).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from PIL import Image

FINDINGS: tuple[str, ...] = (
    "atelectasis", "cardiomegaly", "consolidation", "edema", "effusion", "emphysema",
    "fibrosis", "hernia", "infiltration", "mass", "nodule", "pleural_thickening", "pneumonia",
    "pneumothorax",
)  # fmt: skip
_SHAPES = ("blob", "ring", "bar", "haze")
CARDIOMEGALY_CM = 15.5  # heart width above which a heart is enlarged
_CM_PER_IMAGE = 30.0  # the image's width in cm


def _finding_layout(rng: np.random.Generator) -> list[tuple[str, float, float, float]]:
    """Each finding's mark: a shape, a centre (x, y in [0, 1]) inside a lung, a prevalence."""
    layout = []
    for k in range(len(FINDINGS)):
        side = 0.32 if k % 2 == 0 else 0.68
        layout.append(
            (_SHAPES[k % 4], side + rng.uniform(-0.1, 0.1), rng.uniform(0.3, 0.75),
             rng.uniform(0.15, 0.35))
        )  # fmt: skip
    return layout


def _draw(image: np.ndarray, shape: str, cx: float, cy: float, strength: float) -> None:
    size = image.shape[0]
    yy, xx = np.mgrid[0:size, 0:size] / size
    r = np.hypot(xx - cx, yy - cy)
    if shape == "blob":
        mark = np.exp(-((r / 0.06) ** 2))
    elif shape == "ring":
        mark = np.exp(-(((r - 0.07) / 0.02) ** 2))
    elif shape == "bar":
        mark = np.exp(-(((yy - cy) / 0.02) ** 2)) * (np.abs(xx - cx) < 0.1)
    else:
        mark = np.exp(-((r / 0.14) ** 2)) * 0.6
    image += strength * mark


def make_xray_folder(
    folder: str | Path,
    n_patients: int = 400,
    images_per_patient: tuple[int, int] = (1, 4),
    size: int = 80,
    not_annotated: float = 0.25,
    measured: float = 0.6,
    seed: int = 0,
) -> Path:
    """Write ``folder/images/*.png`` and ``folder/manifest.csv`` (columns: path, patient,
    heart_width, then the 14 findings) and return the manifest's path. Every patient has 1–3
    follow-up images; a seeded ``not_annotated`` share of each finding's cells is blank, and
    the heart is measured on a ``measured`` share of the images."""
    rng = np.random.default_rng(seed)
    layout = _finding_layout(np.random.default_rng(12345))  # the same marks for every seed
    folder = Path(folder)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    rows = []
    yy, xx = np.mgrid[0:size, 0:size] / size
    for patient in range(n_patients):
        width, brightness = rng.uniform(0.16, 0.22), rng.uniform(0.35, 0.55)
        severity = rng.gamma(2.0, 0.5)
        lungs = sum(
            np.exp(-((((xx - c) / width) ** 2 + ((yy - 0.52) / 0.28) ** 2) ** 2))
            for c in (0.32, 0.68)
        )
        heart = rng.normal(0.47, 0.05)  # the heart's width, in image widths
        views = rng.integers(images_per_patient[0], images_per_patient[1])
        for view in range(views):
            image = 0.15 + brightness * lungs + rng.normal(0, 0.08, (size, size))
            seen = heart + rng.normal(0, 0.01)  # as wide as this view shows it
            image += 0.35 * np.exp(
                -((((xx - 0.5) / (seen / 2)) ** 2 + ((yy - 0.68) / 0.12) ** 2) ** 3)
            )
            width_cm = seen * _CM_PER_IMAGE
            cells = []
            for k, (shape, cx, cy, prevalence) in enumerate(layout):
                if FINDINGS[k] == "cardiomegaly":
                    present, strength = width_cm > CARDIOMEGALY_CM, 1.0
                else:
                    present = rng.random() < min(0.9, prevalence * severity)
                    strength = rng.uniform(0.04, 0.3) if present else 0.0
                if present and FINDINGS[k] != "cardiomegaly":
                    _draw(
                        image, shape, cx + rng.normal(0, 0.02), cy + rng.normal(0, 0.02), strength
                    )
                if rng.random() < not_annotated:
                    cells.append("")
                elif (present and strength < 0.08) or (not present and rng.random() < 0.02):
                    cells.append("-1")  # a faint mark, or a reader's doubt: uncertain
                else:
                    cells.append("1" if present else "0")
            name = f"images/p{patient:05d}_v{view}.png"
            pixels = np.clip(image * 255, 0, 255).astype(np.uint8)
            Image.fromarray(pixels, mode="L").save(folder / name)
            measure = f"{width_cm:.1f}" if rng.random() < measured else ""
            rows.append([name, f"p{patient:05d}", measure, *cells])
    manifest = folder / "manifest.csv"
    with manifest.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "patient", "heart_width", *FINDINGS])
        writer.writerows(rows)
    return manifest


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Write the x-ray-like example folder.")
    parser.add_argument("folder", nargs="?", default="data/xray")
    parser.add_argument("--patients", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(make_xray_folder(args.folder, n_patients=args.patients, seed=args.seed))
