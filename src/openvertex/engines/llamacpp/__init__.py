"""llama.cpp in runner processes: chat templates, two-phase thinking, residency and cores.

Nothing is imported here: a runner process imports only `runner.py`.
"""
