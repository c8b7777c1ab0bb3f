"""``python -m lightningstor_client.bench``: the load generator."""

from lightningstor_client.bench.cli import main

if __name__ == "__main__":
    main()
