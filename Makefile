# The two commands on the README's first screen. Both install what they need first.
.PHONY: setup run test bench

setup:
	bash scripts/setup.sh

run: setup
	.venv/bin/counselsim run pipelines/simpsydial.yaml

test: setup
	.venv/bin/python -m pytest

bench: setup
	.venv/bin/python benchmarks/throughput.py
