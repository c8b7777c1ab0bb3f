"""``python -m lightningstor_client.cli``: the ``lightningstor`` command."""

from lightningstor_client.cli import main

if __name__ == "__main__":  # imported (not run) by tools that walk the package: nothing to do
    main()
