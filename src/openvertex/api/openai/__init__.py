"""The OpenAI-compatible wire: chat completions and model lists, as Vertex serves them."""
