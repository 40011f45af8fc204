"""The one data-file loader: bounded UTF-8 reads, TOML -> pydantic, one error format, caller's error class."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, Field

from scanner.dataload import load_toml, read_text, read_toml
from scanner.errors import DataError, UsageError


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    size: int = Field(ge=0)
    tags: list[str] = Field(default_factory=list)


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str
    row: list[_Row]


GOOD = 'title = "t"\n\n[[row]]\nid = "first"\nsize = 1\n\n[[row]]\nid = "second"\nsize = 2\n'


def _write(tmp_path: Path, text: str | bytes, name: str = "data.toml") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def test_a_good_file_loads(tmp_path: Path) -> None:
    doc = load_toml(_write(tmp_path, GOOD), _Doc)
    assert [(r.id, r.size) for r in doc.row] == [("first", 1), ("second", 2)]


@pytest.mark.parametrize("error", [DataError, UsageError])
def test_the_caller_chooses_the_error_class(tmp_path: Path, error: type[DataError | UsageError]) -> None:
    path = _write(tmp_path, GOOD.replace("size = 2", "size = -2"))
    with pytest.raises(error) as info:
        load_toml(path, _Doc, error=error)
    assert type(info.value) is error
    assert str(info.value) == (f"{path}:7: row #2 (second): size: Input should be greater than or equal to 0")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GOOD + 'colour = "red"\n', "{path}:7: row #2 (second): colour: Extra inputs are not permitted"),
        (GOOD.replace('id = "first"\n', ""), "{path}:3: row #1: id: Field required"),
        (GOOD + 'tags = ["a", 2]\n', "{path}:7: row #2 (second): tags[1]: Input should be a valid string"),
        (GOOD.replace('title = "t"', "title = 1"), "{path}: title: Input should be a valid string"),
        (GOOD.replace('title = "t"', ""), "{path}: title: Field required"),
        ('title = "t"\nrow = [{id = "x"}]\n', "{path}: row #1 (x): size: Field required"),  # no header line
    ],
)
def test_schema_errors_name_file_line_entry_field_and_reason(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(DataError) as info:
        load_toml(path, _Doc)
    assert str(info.value) == message.format(path=path)


def test_further_errors_are_counted(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD.replace("size = 1", "size = -1").replace("size = 2", "size = -2"))
    with pytest.raises(DataError, match=r"row #1 \(first\): size: .* \(and 1 more\)$"):
        load_toml(path, _Doc)


def test_cross_check_messages_share_the_format(tmp_path: Path) -> None:
    doc = read_toml(_write(tmp_path, GOOD))
    assert doc.entry("row", 1, "not unique", field="id") == f"{doc.path}:7: row #2 (second): id: not unique"
    assert doc.where("row", 0) == f"{doc.path}:3: row #1 (first)"


def test_bad_toml_names_the_line_and_column(tmp_path: Path) -> None:
    path = _write(tmp_path, 'title = "t"\n[[row]\n')
    with pytest.raises(UsageError, match=re.escape(f"{path}:2: not valid TOML: ") + r".*\(column \d+\)$"):
        read_toml(path, error=UsageError)
    path = _write(tmp_path, 'title = "t"\nrow = [')
    with pytest.raises(DataError, match=re.escape(f"{path}:2: not valid TOML: ") + ".*at end of file"):
        read_toml(path)


def test_reads_are_bounded_and_utf8(tmp_path: Path) -> None:
    big = _write(tmp_path, "x" * 101)
    assert read_text(_write(tmp_path, "x" * 100, "ok.txt"), max_bytes=100) == "x" * 100
    with pytest.raises(DataError, match=re.escape(f"{big}: lab file larger than 100 bytes")):
        read_text(big, max_bytes=100, what="lab file")
    latin1 = _write(tmp_path, "a\nb\ncaf\xe9\n".encode("latin-1"))
    with pytest.raises(UsageError, match=re.escape(f"{latin1}:3: not UTF-8 text")):
        read_text(latin1, max_bytes=100, error=UsageError)
    assert read_text(_write(tmp_path, b"\xef\xbb\xbfbom"), max_bytes=100) == "bom"


@pytest.mark.parametrize("name", ["missing.toml", "."])
def test_unreadable_paths_are_one_line_errors(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    with pytest.raises(UsageError, match=re.escape(f"{path}: cannot read the waiver file: ")):
        read_toml(path, error=UsageError, what="waiver file")
