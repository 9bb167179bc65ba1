"""What a model gets in plain text when its serving stack lacks it: turns, tools, calls.

Shared by engines: the embedded llama.cpp (for templates that know no tools) and
an upstream whose server does not parse calls (`tools = "prompted"`).
"""
