"""What the tunesmith command loads before it knows which command runs."""

from __future__ import annotations

import json
import subprocess
import sys

# Only commands that create or run a job need these; reading commands start without them.
HEAVY = ("numpy", "pydantic", "tunesmith.model.shapes", "tunesmith.space", "tunesmith.engine")


def test_the_command_module_leaves_numpy_and_the_document_shapes_unloaded() -> None:
    probe = (
        "import json, sys\n"
        "import tunesmith.cli\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    assert json.loads(result.stdout) == []
