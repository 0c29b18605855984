"""`python -m bayesmatrix`: the same command line as `bayesmatrix`."""

from bayesmatrix.cli import main

if __name__ == "__main__":
    main()
