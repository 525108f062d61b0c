"""``python -m api.cli``: the ragstead command without the console script."""

from api.cli import main

main()
