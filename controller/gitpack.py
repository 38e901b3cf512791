"""Write many git objects as one pack file (with its index) instead of one loose file each.

A batch of backups makes a blob, a tree and a commit per save: as loose objects through
libgit2 that is three files and three zlib streams per save, all holding the GIL (issue #17).
Here they are hashed and deflated in memory and written as one pack and one index, in git's
documented formats (git's Documentation/gitformat-pack.txt: pack version 2, index version 2,
undeltified objects). git and libgit2 read it like any fetched pack.
"""

from __future__ import annotations

import bisect
import hashlib
import os
import struct
import zlib
from pathlib import Path

# Object types in a pack entry's header (gitformat-pack.txt, "Object types").
COMMIT, TREE, BLOB = 1, 2, 3
_NAMES = {COMMIT: b"commit", TREE: b"tree", BLOB: b"blob"}
TREE_MODE = 0o040000


def object_id(kind: int, data: bytes) -> bytes:
    """The object's SHA-1 name: of `<type> <size>\\0<data>`."""
    return hashlib.sha1(_NAMES[kind] + b" %d\x00" % len(data) + data).digest()


def tree_data(entries: dict[str, tuple[int, bytes]]) -> bytes:
    """A tree object's body: `<octal mode> <name>\\0<20-byte id>` per entry, in git's order
    (names compared as bytes, a subtree's name as if it ended in `/`)."""
    def key(name: str) -> bytes:
        return name.encode() + (b"/" if entries[name][0] == TREE_MODE else b"")

    return b"".join(b"%o %s\x00%s" % (entries[name][0], name.encode(), entries[name][1])
                    for name in sorted(entries, key=key))


class TreeEntries:
    """A tree's entries kept encoded and in git's order: replacing one and writing the tree
    again is a join, not a sort and an encoding of every entry (a batch of N saves to M
    files wrote N*M entries anew; issue #17). data() equals tree_data() of the same entries."""

    def __init__(self, entries: dict[str, tuple[int, bytes]]) -> None:
        self._entries = dict(entries)
        self._encoded = {name: _entry(name, *value) for name, value in entries.items()}
        self._order = sorted(entries, key=self._key)

    def _key(self, name: str) -> bytes:
        return name.encode() + (b"/" if self._entries[name][0] == TREE_MODE else b"")

    def get(self, name: str) -> tuple[int, bytes] | None:
        return self._entries.get(name)

    def set(self, name: str, mode: int, oid: bytes) -> None:
        old = self._entries.get(name)
        if old is not None and (old[0] == TREE_MODE) != (mode == TREE_MODE):
            self._order.remove(name)  # a file became a directory or back: it sorts anew
            old = None
        self._entries[name] = (mode, oid)
        self._encoded[name] = _entry(name, mode, oid)
        if old is None:
            bisect.insort(self._order, name, key=self._key)

    def data(self) -> bytes:
        return b"".join(self._encoded[name] for name in self._order)


def _entry(name: str, mode: int, oid: bytes) -> bytes:
    return b"%o %s\x00%s" % (mode, name.encode(), oid)


class PackWriter:
    """Objects collected in memory, then written as `pack-<sum>.pack` and `.idx`."""

    def __init__(self) -> None:
        self._objects: dict[bytes, tuple[int, bytes]] = {}

    def add(self, kind: int, data: bytes) -> bytes:
        oid = object_id(kind, data)
        self._objects.setdefault(oid, (kind, data))
        return oid

    def __len__(self) -> int:
        return len(self._objects)

    def write(self, pack_dir: Path) -> Path | None:
        """Write the pack and its index into `pack_dir` (fsynced, index last, as git reads
        a pack only once its index is there); the pack's path, or None if empty."""
        if not self._objects:
            return None
        pack = bytearray(b"PACK" + struct.pack(">II", 2, len(self._objects)))
        entries: list[tuple[bytes, int, int]] = []  # id, crc32, offset
        for oid, (kind, data) in self._objects.items():
            offset = len(pack)
            size = len(data)
            header = bytearray([(kind << 4) | (size & 0x0F)])
            size >>= 4
            while size:
                header[-1] |= 0x80
                header.append(size & 0x7F)
                size >>= 7
            packed = bytes(header) + zlib.compress(data, 1)
            pack += packed
            entries.append((oid, zlib.crc32(packed), offset))
        checksum = hashlib.sha1(pack).digest()
        pack += checksum
        entries.sort()
        fanout, at = [], 0
        for first in range(256):
            while at < len(entries) and entries[at][0][0] == first:
                at += 1
            fanout.append(at)
        if entries[-1][2] >= 1 << 31:
            raise ValueError("a pack over 2 GiB needs 64-bit offsets")
        index = bytearray(b"\xfftOc" + struct.pack(">I", 2))
        index += struct.pack(">256I", *fanout)
        index += b"".join(oid for oid, _, _ in entries)
        index += b"".join(struct.pack(">I", crc) for _, crc, _ in entries)
        index += b"".join(struct.pack(">I", offset) for _, _, offset in entries)
        index += checksum
        index += hashlib.sha1(index).digest()
        pack_dir.mkdir(parents=True, exist_ok=True)
        base = pack_dir / f"pack-{checksum.hex()}"
        for suffix, content in ((".pack", pack), (".idx", index)):
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


def _write_all(fd: int, data: bytes | bytearray) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
