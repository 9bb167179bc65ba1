"""openvertex: Vertex AI's OpenAI-compatible endpoint, served from open models you run."""

__version__ = "0.1.0"
