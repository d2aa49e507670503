from hilite_cli.cli.app import main

main()
