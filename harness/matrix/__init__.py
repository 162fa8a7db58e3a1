"""The emulator matrix (issue #15): the same deployment, probes and scenarios on each
emulator that runs here, with the evidence of every verdict and the speed of each.

`sweep.run` makes the document, `table` writes and reads it, `probes` holds the
behaviour checks. `harness matrix` (harness/cli/matrix.py) is the command.
"""

from harness.matrix.probes import PROBES, STATUSES
from harness.matrix.sweep import EMULATORS, run
from harness.matrix.table import text_table, write

__all__ = ["EMULATORS", "PROBES", "STATUSES", "run", "text_table", "write"]
