"""Budget forcing inside vLLM's decode: one device-resident kernel, an adapter per model runner.

``table`` (the slots' memory) and ``kernel`` (the step) are torch only; ``v1`` and ``v2`` adapt them to
vLLM's two logits-processor interfaces; ``runner`` picks the one the engine will load.
"""
