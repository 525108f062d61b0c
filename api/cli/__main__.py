"""``python -m api.cli``: the ragstead command without the console script."""

from api.cli import main

if __name__ == "__main__":  # worker processes (spawn) import this module without running it
    main()
