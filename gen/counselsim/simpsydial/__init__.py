"""The SimPsyDial pipeline: two role-playing agents, termination g, the check σ, the generation job."""
