"""Where the appliance's disk goes: free space of the data file system and
what Korund keeps on it (recordings, the database, logs) -- shown on the
Hardware health page and in ``/api/v1/health`` so a technician sees a disk
filling up before the recordings' disk guard starts deleting.

The state uses the recordings' guard floors (appliance.recordings.store): below
the warning floor "warning", below the delete floor "critical".
"""
from __future__ import annotations

import os
from pathlib import Path

from appliance.recordings import store as recordings


def tree_size(root: Path) -> tuple[int, int]:
    """(files, bytes) under *root* (0, 0 when it is missing); files that
    vanish while counted (a rotation) are skipped."""
    files = size = 0
    for folder, _dirs, names in os.walk(root):
        for name in names:
            try:
                size += os.lstat(os.path.join(folder, name)).st_size
            except OSError:
                continue
            files += 1
    return files, size


def summary(db, instance, free_fn=None) -> dict:
    """{'free', 'total', 'free_percent', 'state', 'warn_free_percent',
    'delete_free_percent', 'parts': [{'name', 'files', 'bytes'}]}. The
    recordings' figures come from their index (appliance.recordings.store.usage,
    which the archive service keeps whole), not from walking years of files."""
    rec = recordings.usage(db, instance, free_fn or recordings.free_space)
    state = ("critical" if rec["free_percent"] < rec["delete_free_percent"]
             else "warning" if rec["warning"] else "ok")
    db_files = [p for p in (instance.db_path, Path(f"{instance.db_path}-wal")) if p.exists()]
    parts = [
        {"name": "recordings", "files": rec["files"], "bytes": rec["bytes"]},
        {"name": "database", "files": len(db_files), "bytes": sum(p.stat().st_size for p in db_files)},
        dict(zip(("files", "bytes"), tree_size(instance.log)), name="logs"),
    ]
    return {"free": rec["free"], "total": rec["total"], "free_percent": rec["free_percent"], "state": state,
            "warn_free_percent": rec["warn_free_percent"], "delete_free_percent": rec["delete_free_percent"],
            "parts": parts}
