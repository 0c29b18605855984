"""`python -m bayesmatrix.cli`."""

from bayesmatrix.cli import main

main()
