"""TreeEntries (the backups' incremental tree, issue #17) writes what tree_data() writes for
the same entries, after any sequence of replacements and additions, and git reads it."""

from __future__ import annotations

import pygit2
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.gitpack import TREE, TREE_MODE, TreeEntries, object_id, tree_data

BLOB_MODE = 0o100644
NAME = st.sampled_from(["a", "a.b", "a-b", "b", "a0", "ab", "Z", "pushed", "setda-r1"])
STEP = st.tuples(NAME, st.sampled_from([BLOB_MODE, TREE_MODE]), st.binary(min_size=20,
                                                                            max_size=20))


@settings(max_examples=500, deadline=None)
@given(st.lists(STEP, max_size=6), st.lists(STEP, max_size=12))
def test_tree_entries_equal_tree_data(start: list[tuple[str, int, bytes]],
                                      steps: list[tuple[str, int, bytes]]) -> None:
    entries = {name: (mode, oid) for name, mode, oid in start}
    tree = TreeEntries(entries)
    for name, mode, oid in steps:
        tree.set(name, mode, oid)
        entries[name] = (mode, oid)
        assert tree.data() == tree_data(entries)
        assert tree.get(name) == (mode, oid)


def test_git_reads_the_tree_in_its_order(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """libgit2 writes the same tree for the same blobs (its order, not ours, decides)."""
    repo = pygit2.init_repository(str(tmp_path), bare=True)
    blobs = {name: repo.create_blob(name.encode()) for name in ["b", "a.b", "a-b", "ab"]}
    tree = TreeEntries({})
    builder = repo.TreeBuilder()
    for name, oid in blobs.items():
        tree.set(name, BLOB_MODE, oid.raw)
        builder.insert(name, oid, pygit2.enums.FileMode.BLOB)
    assert object_id(TREE, tree.data()) == builder.write().raw
