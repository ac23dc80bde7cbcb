"""``python -m restorefw`` (also what ``torchrun -m restorefw`` runs)."""

from restorefw.cli import main

main()
