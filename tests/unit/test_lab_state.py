"""The simulators' state file: written when the configuration changes, not after every command."""

from __future__ import annotations

from pathlib import Path

from lab.ssh_sim.state import DeviceState


def test_an_unchanged_document_is_not_written_again(tmp_path: Path) -> None:
    state = DeviceState(tmp_path, "r1")
    state.save({"ip": ["10.0.0.1/24"]})
    first = state.path.stat().st_ino  # every write renames a new file into place
    state.save({"ip": ["10.0.0.1/24"]})  # an export or a print: nothing changed
    assert state.path.stat().st_ino == first

    state.save({"ip": ["10.0.0.2/24"]})
    assert state.path.stat().st_ino != first
    assert DeviceState(tmp_path, "r1").load() == {"ip": ["10.0.0.2/24"]}


def test_a_file_replaced_by_another_process_is_written_back(tmp_path: Path) -> None:
    state = DeviceState(tmp_path, "r1")
    state.save({"ip": []})
    DeviceState(tmp_path, "r1").save({"ip": ["seeded"]})  # `simpul lab seed` meanwhile
    state.save({"ip": []})  # same as this object last wrote, but the file is not that any more
    assert DeviceState(tmp_path, "r1").load() == {"ip": []}
