from artrepo.cli.main import main

main()
