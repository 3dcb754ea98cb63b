"""Feedback on counselor responses to client resistance (Li et al. 2026): for each counselor reply that follows a
resistant client turn, a judge model rates four communication mechanisms at three levels and explains why."""
