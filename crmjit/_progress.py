"""One progress-bar helper (tqdm on stderr), off unless asked for."""

from __future__ import annotations

import contextlib

from tqdm.auto import tqdm


@contextlib.contextmanager
def progress_bar(total, *, enabled, desc, unit="it"):
    """Yield an object with ``update(k)``; a real tqdm bar only when ``enabled``."""
    bar = tqdm(total=total, desc=desc, unit=unit, unit_scale=True, disable=not enabled,
               leave=False, dynamic_ncols=True)
    try:
        yield bar
    finally:
        bar.close()
