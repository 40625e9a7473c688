"""Generate the course's sample data: synthetic faces in the real data sets' exact formats.

    python -m data_scripts.make_sample_data --out data/sample
    python -m data_scripts.make_sample_data --preview lessons/figures/sample_faces.png

The same command as ``python -m utils.make_sample_data`` and ``face-course sample-data``,
where the code lives (the library cannot import ``data_scripts``).
"""

from __future__ import annotations

import sys

from utils.make_sample_data import main, preview

__all__ = ["main", "preview"]

if __name__ == "__main__":
    sys.exit(main())
