"""llama.cpp in runner processes: grammars, tool prompts, chat templates, two-phase thinking.

Nothing is imported here: a runner process imports only `runner.py`.
"""
