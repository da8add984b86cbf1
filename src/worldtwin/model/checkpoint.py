"""Model directories: safetensors tensors + a JSON manifest. Loading never runs code from the files.

Layout of a model directory::

    model.json           format name and version, spec (and its hash), network sizes, training and
                         data facts, metrics, and the SHA-256 of the weights file
    weights.safetensors  every tensor: network weights, scalers, calibration, start windows
    curves.json/.png     training curves
    MODEL_CARD.md        what the model was trained on, how well it does, where not to trust it

No pickle, no ``torch.load``: safetensors holds only named arrays and JSON only data. The weights
file must match the hash recorded in the manifest, and unknown formats or versions are refused.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from worldtwin.errors import CheckpointError

FORMAT = "worldtwin-world-model"
FORMAT_VERSION = 1
SUPPORTED_VERSIONS = (1,)
MANIFEST = "model.json"
WEIGHTS = "weights.safetensors"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_checkpoint(
    directory: str | Path, manifest: dict[str, Any], tensors: dict[str, torch.Tensor]
) -> Path:
    """Write ``tensors`` and ``manifest`` (plus format, version and weights hash) into ``directory``."""
    out = Path(directory)
    if out.exists() and not out.is_dir():
        raise CheckpointError(f"{out} exists and is not a directory; choose a new model directory")
    out.mkdir(parents=True, exist_ok=True)
    weights = out / WEIGHTS
    tmp = weights.with_suffix(".tmp")
    save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp))
    tmp.replace(weights)
    full = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        **manifest,
        "weights": {"file": WEIGHTS, "sha256": sha256(weights)},
    }
    (out / MANIFEST).write_text(json.dumps(full, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    return out


def read_checkpoint(
    directory: str | Path, device: str = "cpu"
) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """The manifest and tensors of a model directory, after checking format, version and weights hash."""
    root = Path(directory)
    manifest_path = root / MANIFEST if root.is_dir() else root
    if not manifest_path.is_file():
        raise CheckpointError(
            f"{root}: no {MANIFEST} found; expected a model directory written by "
            "'worldtwin train' or WorldModel.save()"
        )
    root = manifest_path.parent
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(
            f"{manifest_path}: not valid JSON ({exc}); the file is damaged or not a worldtwin manifest"
        ) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else type(manifest).__name__
        raise CheckpointError(
            f"{manifest_path}: format {found!r} is not {FORMAT!r}; this is not a worldtwin world model"
        )
    version = manifest.get("format_version")
    if version not in SUPPORTED_VERSIONS:
        raise CheckpointError(
            f"{manifest_path}: format_version {version!r} is not supported (this worldtwin "
            f"reads {list(SUPPORTED_VERSIONS)}); retrain the model with this version, or "
            "use the worldtwin release that wrote it"
        )
    record = manifest.get("weights")
    if (
        not isinstance(record, dict)
        or record.get("file") != WEIGHTS
        or not isinstance(record.get("sha256"), str)
    ):
        raise CheckpointError(
            f"{manifest_path}: the 'weights' entry is missing or malformed; expected "
            f'{{"file": "{WEIGHTS}", "sha256": "<hex>"}}'
        )
    weights = root / WEIGHTS
    if not weights.is_file():
        raise CheckpointError(f"{root}: {WEIGHTS} is missing; copy the whole model directory")
    actual = sha256(weights)
    if actual != record["sha256"]:
        raise CheckpointError(
            f"{weights}: SHA-256 {actual[:16]}… does not match {record['sha256'][:16]}… recorded "
            f"in {MANIFEST}; the weights were modified or belong to another model. Retrain or "
            "restore the original directory"
        )
    try:
        tensors = load_file(str(weights), device=device)
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{weights}: cannot read safetensors ({exc})") from None
    return manifest, tensors
