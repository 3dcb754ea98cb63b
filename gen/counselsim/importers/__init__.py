"""Dialogue corpora made elsewhere, read into ordinary session records (`counselsim import`).

    records.py             what a reader returns: parsed records and rejected ones, each problem with file,
                           record and field
    dialogue.py            the checks every format shares (roles, empty turns, alternation) and the session record
    interactive_agents.py  the Interactive Agents release: a folder of <N>.json dialogues, optional chief complaints
    messages.py            chat records: {"messages": [{role, content}]} (OpenAI, LLaMA-Factory sharegpt) and
                           ShareGPT {"conversations": [{from, value}]}, as JSON or JSONL
"""
