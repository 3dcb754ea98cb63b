# The two commands on the README's first screen. Both install what they need first.
.PHONY: setup run test bench

setup:
	@bash scripts/setup.sh

# A small run sized for a 2-core CPU: 16 sessions of 6 turn pairs; a session the toy model closes early is
# dropped as too short. A reply that stops at max_tokens is regenerated, never kept, so the limits leave room for
# a whole reply: 160 tokens hold σ's 120 English words in SmolLM2's tokenizer (at 48 tokens 86 of 96 replies
# were cut); the toy model ends most replies on its own well before that.
run: setup
	.venv/bin/counselsim run pipelines/simpsydial.yaml --sessions 16 --set session.max_turn_pairs=6 \
	  --set session.min_turn_pairs=6 --set roles.counselor.max_tokens=160 --set roles.client.max_tokens=128

test: setup
	.venv/bin/python -m pytest

bench: setup
	.venv/bin/python benchmarks/throughput.py
