"""llama.cpp in runner processes: grammars, tool prompts, chat templates, two-phase thinking."""

from openvertex.engines.llamacpp.engine import LlamaCppEngine

__all__ = ["LlamaCppEngine"]
