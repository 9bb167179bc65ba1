"""Vertex's native Gemini wire (google-genai): generateContent and its kin."""
