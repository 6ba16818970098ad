from fentanyl_kg.cli import main

main()
