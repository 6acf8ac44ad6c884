"""The shipped tiny reasoning model: its task, tokenizer, training and evaluation.

The model itself (weights, tokenizer, chat template) is committed under
``server/models/tiny-reasoner`` so the server can serve it without any download.
"""
