"""The engine boundary: types the serving layer uses, vLLM's adapter, the budget's logits processor.

Kept empty of imports: vLLM's engine process imports ``server.engine.processor`` and should load no more.
"""
