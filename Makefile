# The two commands on the README's first screen. Both install what they need first.
.PHONY: setup run test bench

setup:
	bash scripts/setup.sh

# A small run sized for a 2-core CPU: 16 sessions capped at 12 turn pairs, short replies.
run: setup
	.venv/bin/counselsim run pipelines/simpsydial.yaml --sessions 16 --set session.max_turn_pairs=12 \
	  --set roles.counselor.max_tokens=48 --set roles.client.max_tokens=40

test: setup
	.venv/bin/python -m pytest

bench: setup
	.venv/bin/python benchmarks/throughput.py
