"""``python -m server``: serve the shipped tiny model on 127.0.0.1:8000 (see ``--help``)."""

from server.cli import main

if __name__ == "__main__":
    main()
