"""The multi-response arena (SimPsyDial §5.3, Algorithm 2): two counselor entrants answer every client turn, a
supervisor picks one, and ratings rank the entrants over all battles."""
