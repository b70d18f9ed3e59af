"""The ledger journal: appends, reads from an offset, rotation, torn lines and writer locks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pavedroad.config.models import Settings
from pavedroad.metering.journal import (
    JournalWriter,
    WriterLock,
    journal_files,
    read_lines,
    writers_in,
)
from pavedroad.metering.ledger import journal_dir_for


def line(i: int) -> bytes:
    return b'{"request_id": "req_%d"}\n' % i


def test_appends_are_read_back_from_any_offset(tmp_path: Path) -> None:
    writer = JournalWriter(tmp_path, rotate_bytes=1 << 20)
    for i in range(5):
        writer.append(line(i))
    first = read_lines(writer.path, 0, max_lines=2)
    assert first.lines == [line(0), line(1)]
    rest = read_lines(writer.path, first.end, max_lines=100)
    assert rest.lines == [line(2), line(3), line(4)]
    assert rest.end == writer.path.stat().st_size
    assert read_lines(writer.path, rest.end, max_lines=100).lines == []
    writer.append(line(5))  # resumes exactly where the last read stopped
    assert read_lines(writer.path, rest.end, max_lines=100).lines == [line(5)]


def test_a_line_without_its_newline_is_left_for_later(tmp_path: Path) -> None:
    path = tmp_path / "jw_x.000001.jsonl"
    path.write_bytes(line(1) + b'{"request_id": "re')
    chunk = read_lines(path, 0, max_lines=10)
    assert chunk.lines == [line(1)]
    assert chunk.end == len(line(1))
    assert chunk.torn_tail
    with open(path, "ab") as handle:
        handle.write(b'q_2"}\n')
    assert read_lines(path, chunk.end, max_lines=10).lines == [b'{"request_id": "req_2"}\n']


def test_rotation_by_size_keeps_order_across_files(tmp_path: Path) -> None:
    writer = JournalWriter(tmp_path, rotate_bytes=4096)
    for i in range(400):
        writer.append(line(i))
    files = journal_files(tmp_path, writer.writer)
    assert len(files) > 2
    assert [f.seq for f in files] == list(range(1, len(files) + 1))
    assert files[-1].path == writer.path
    assert all(f.path.stat().st_size <= 4096 + len(line(399)) for f in files)
    lines = [ln for f in files for ln in read_lines(f.path, 0, max_lines=10_000).lines]
    assert lines == [line(i) for i in range(400)]


def test_each_record_is_one_write_on_an_append_only_descriptor(tmp_path: Path) -> None:
    writer = JournalWriter(tmp_path, rotate_bytes=1 << 20)
    flags = int(Path(f"/proc/self/fdinfo/{writer._fd}").read_text().split("flags:")[1].split()[0],
                8)
    assert flags & os.O_APPEND


def test_a_living_writer_cannot_be_adopted_a_dead_one_can(tmp_path: Path) -> None:
    writer = JournalWriter(tmp_path, rotate_bytes=1 << 20)
    writer.append(line(1))
    assert writers_in(tmp_path) == {writer.writer}
    other = WriterLock(tmp_path, writer.writer)
    assert not other.acquire()  # held: its process is alive
    writer.close()
    writer.lock.release()  # what the kernel does when the process dies
    assert other.acquire()
    other.release(remove=True)
    assert not (tmp_path / f"{writer.writer}.lock").exists()
    assert journal_files(tmp_path, writer.writer)  # the journal stays for replay


def test_a_closed_writer_refuses_appends(tmp_path: Path) -> None:
    writer = JournalWriter(tmp_path, rotate_bytes=1 << 20)
    writer.close()
    with pytest.raises(OSError):
        writer.append(line(1))


def test_two_writers_in_one_directory_have_their_own_files(tmp_path: Path) -> None:
    a = JournalWriter(tmp_path, rotate_bytes=1 << 20)
    b = JournalWriter(tmp_path, rotate_bytes=1 << 20)
    a.append(line(1))
    b.append(line(2))
    assert a.writer != b.writer
    assert writers_in(tmp_path) == {a.writer, b.writer}
    assert [f.writer for f in journal_files(tmp_path)] == sorted([a.writer, b.writer])


def test_each_store_gets_its_own_journal_directory(tmp_path: Path) -> None:
    def where(url: str, **ledger: object) -> Path:
        return journal_dir_for(Settings.model_validate(
            {"store": {"url": url}, "metering": {"ledger": ledger}}))

    assert where("sqlite:///.pavedroad/pavedroad.db") == Path(".pavedroad/journal")
    assert where(f"sqlite:///{tmp_path}/a.db") == tmp_path / "journal"
    one, two = where("postgresql://u:pw@db:5432/spend"), where("postgresql://u:pw@db:5432/other")
    assert one.parent == two.parent == Path(".pavedroad/journal") and one != two
    assert "pw" not in str(one) and one.name.startswith("spend-")
    assert where("postgresql://db/spend", journal_dir=str(tmp_path)) == tmp_path
