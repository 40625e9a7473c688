"""Write the student and instructor editions of the course notebooks (``make editions``).

    python -m data_scripts.make_editions --out build/editions

The same command as ``python -m utils.editions``, where the code and its documentation live.
"""

from __future__ import annotations

import sys

from utils.editions import main

if __name__ == "__main__":
    sys.exit(main())
