"""The RPC pipeline: session corpus -> 5P profiles -> the planner's decision and at most one injected resistance
episode per session, the dialogue kept coherent after it -> every client turn labeled -> `rpc_session` records.

    taxonomy.py   PsyFIRE and the RPC reaction types, loaded from gen/taxonomies/*.yaml and validated
    settings.py   the `stages.rpc` config section
    calls.py      one model call that returns a validated value: guided decoding or a strict parser, bounded retries
    parsing.py    the strict parsers (JSON objects, "Behavior:/Reason:" label lines)
    meter.py      per-stage call counts, tokens and busy time
    render.py     dialogue, names and profile as the prompts show them (prompts/rpc_terms.yaml)
    profile.py    the 5P profile builder
    selection.py  which input sessions, balanced across role-card topics
    planner.py    whether a session gets an episode, where, and of which type (the planner's decision)
    rewriter.py   the motivation-reasoning rewrite of the episode's turns
    continuation.py  turns regenerated after changed ones (counselor through σ, client role) and the rejoin check
    labeler.py    RECAP-style labeling: binary, then fine-grained for resistant turns
    selfcheck.py  the labeler scored on the injected turns
    job.py        the runner Job: input corpus -> rpc_session records
"""
