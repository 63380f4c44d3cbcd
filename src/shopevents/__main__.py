from shopevents.cli import main

main()
