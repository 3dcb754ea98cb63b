"""counselsim: synthetic psychological-counseling dialogue corpora from role-playing LLM agents."""
__version__ = "0.1.0"
