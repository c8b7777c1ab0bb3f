"""``python -m lightningstor_client.cli``: the ``lightningstor`` command."""

from lightningstor_client.cli import main

main()
