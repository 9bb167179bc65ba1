"""What a chat request means, independent of HTTP and of the engine that runs it."""
