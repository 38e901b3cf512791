"""Write many git objects as one pack file (with its index) instead of one loose file each.

A batch of backups makes a blob, a tree and a commit per save: as loose objects through
libgit2 that is three files and three zlib streams per save, all holding the GIL (issue #17).
Here dulwich builds the objects and writes them as one pack (version 2, undeltified) and its
index (version 2); what is ours is only how they reach the disk: fsynced, the index last.
git and libgit2 read the pack like any fetched one.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

from dulwich.object_format import SHA1
from dulwich.objects import Blob, Commit, ObjectID, ShaFile, Tree
from dulwich.pack import UnpackedObject, write_pack_data, write_pack_index

__all__ = ["Blob", "Commit", "ObjectID", "PackWriter", "Tree"]


class PackWriter:
    """Objects collected in memory, then written as `pack-<sum>.pack` and `.idx`."""

    def __init__(self) -> None:
        self._objects: dict[bytes, UnpackedObject] = {}

    def add(self, obj: ShaFile) -> bytes:
        """Keep `obj` as it is now for the pack (it may change after: one tree, edited per
        commit, is serialised anew each time); its 20-byte id."""
        oid: bytes = obj.sha().digest()
        if oid not in self._objects:
            # One chunk: a tree's serialisation is a chunk per entry, each deflated apart.
            self._objects[oid] = UnpackedObject(obj.type_num, decomp_chunks=[obj.as_raw_string()],
                                                sha=oid)
        return oid

    def __len__(self) -> int:
        return len(self._objects)

    def write(self, pack_dir: Path) -> Path | None:
        """Write the pack and its index into `pack_dir` (fsynced, index last, as git reads
        a pack only once its index is there); the pack's path, or None if empty."""
        if not self._objects:
            return None
        pack = io.BytesIO()
        entries, checksum = write_pack_data(pack.write, iter(self._objects.values()),
                                            object_format=SHA1,
                                            num_records=len(self._objects), compression_level=1)
        index = io.BytesIO()
        write_pack_index(index, sorted((oid, offset, crc)
                                       for oid, (offset, crc) in entries.items()), checksum,
                         version=2)
        pack_dir.mkdir(parents=True, exist_ok=True)
        base = pack_dir / f"pack-{checksum.hex()}"
        for suffix, content in ((".pack", pack.getbuffer()), (".idx", index.getbuffer())):
            partial = base.with_name(f"tmp_{base.name}{suffix}")
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o444)
            try:
                _write_all(fd, content)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.rename(partial, base.with_suffix(suffix))
        fd = os.open(pack_dir, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        return base.with_suffix(".pack")


def _write_all(fd: int, data: memoryview) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
