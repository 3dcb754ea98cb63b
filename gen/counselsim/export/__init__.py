"""Training exports of a corpus."""
