"""`python -m brook`: the CLI as a program (how tests and tools start brokers).

kio's phantom types import hypothesis when it is importable, to register test strategies for themselves. A
brook process never draws them, and where the test extras are installed that import (hypothesis, which pulls in
pytest and trio) cost ~0.8 s of the ~1.8 s of CPU a broker spent importing: the suite starts brokers hundreds of
times. Marked absent here, before anything imports kio, the registration is skipped and nothing else changes.
Only a program does this: a test process that imports brook keeps its hypothesis.
"""

import sys

sys.modules.setdefault("hypothesis", None)  # type: ignore[arg-type]

from brook.cli.main import main  # noqa: E402 - after the line above, which must run before kio is imported

main()
