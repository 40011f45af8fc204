import sys

from scanner.lab.sim.runtime import main

sys.exit(main(sys.argv[1:]))
