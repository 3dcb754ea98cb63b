# The two commands on the README's first screen. Both install what they need first.
.PHONY: setup run test bench

setup:
	@bash scripts/setup.sh

# A small run sized for a 2-core CPU: 16 sessions of up to 4 turn pairs (at least 2). A reply that stops at
# max_tokens is regenerated, never kept, so the limits leave room for a whole reply: 160 counselor tokens hold σ's
# 120 English words in SmolLM2's tokenizer (at 48 tokens 86 of 96 replies were cut). The toy model's replies grow
# as a session goes on, so sessions are kept short, the client gets 192 tokens, and both roles stop at a line
# break (σ rejects a newline anyway): the model ends its reply there on its own instead of being cut.
run: setup
	.venv/bin/counselsim run pipelines/simpsydial.yaml --sessions 16 --set session.max_turn_pairs=4 \
	  --set session.min_turn_pairs=2 --set roles.counselor.max_tokens=160 --set roles.client.max_tokens=192 \
	  --set 'roles.client.stop=["\n"]' --set 'roles.counselor.stop=["\n"]'

test: setup
	.venv/bin/python -m pytest

bench: setup
	.venv/bin/python benchmarks/throughput.py
