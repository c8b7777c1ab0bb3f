from lightningstor_client.bench.cli import main

main()
