"""HTTP routes: thin handlers that validate, call the engine, and format."""
