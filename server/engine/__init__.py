"""The engine boundary: types the serving layer uses, vLLM's adapter, the budget's processors (``forcing/``).

Kept empty of imports: vLLM's engine process imports ``server.engine.forcing.v1`` or ``.v2`` and should load no more.
"""
