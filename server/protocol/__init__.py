"""The OpenAI wire format: request and response models (pydantic)."""
