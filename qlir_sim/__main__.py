"""`python -m qlir_sim`: the same as the `qlir-sim` command."""

import sys

from qlir_sim.cli import main

sys.exit(main())
