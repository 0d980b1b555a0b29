from privmigrate.cli import main

main()
