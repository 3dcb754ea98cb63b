# The two commands on the README's first screen. Both install what they need first.
.PHONY: setup run test bench

setup:
	bash scripts/setup.sh

# A small run sized for a 2-core CPU (a few minutes): 16 sessions of 6 turn pairs with short replies. The toy
# model never says goodbye, so every session runs to the cap; the length filter is lowered to match.
run: setup
	.venv/bin/counselsim run pipelines/simpsydial.yaml --sessions 16 --set session.max_turn_pairs=6 \
	  --set session.min_turn_pairs=6 --set roles.counselor.max_tokens=48 --set roles.client.max_tokens=40

test: setup
	.venv/bin/python -m pytest

bench: setup
	.venv/bin/python benchmarks/throughput.py
