from brook.cli.main import main

main()
