"""User files are read byte-exact: line endings, tabs, scripts kept; a BOM dropped; bad UTF-8 named by offset."""

from __future__ import annotations

import pytest

from promptkit.errors import InputFileError
from promptkit.text_files import read_text_file

MIXED_SCRIPTS = "Taste-likes: 寿司, ফুচকা, шаурма\tand שקשוקה\r\nTaste-dislikes: 🌶️\rRecommendation:"


@pytest.mark.parametrize(
    "text",
    ["line one\r\nline two\r\n", "lone\rcarriage\rreturns", "tabs\tstay\t\n", MIXED_SCRIPTS, "no newline at end"],
)
def test_text_comes_back_exactly_as_written(tmp_path, text):
    path = tmp_path / "prompt.txt"
    path.write_bytes(text.encode("utf-8"))
    assert read_text_file(path, what="prompt") == text


def test_a_leading_byte_order_mark_is_dropped_and_nothing_else(tmp_path):
    path = tmp_path / "prompt.txt"
    path.write_bytes(b"\xef\xbb\xbfTaste-likes: tea\r\n\xef\xbb\xbf")
    assert read_text_file(path, what="prompt") == "Taste-likes: tea\r\n\ufeff"  # Only the leading one is a marker.


def test_bad_utf8_names_the_file_the_byte_and_its_offset(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("Café".encode("latin-1"))
    with pytest.raises(InputFileError, match=r"latin1\.txt is not UTF-8 text: byte 0xe9 at offset 3 .*Save the file as UTF-8"):
        read_text_file(path, what="prompt")


def test_the_offset_counts_a_dropped_byte_order_mark(tmp_path):
    path = tmp_path / "prompt.txt"
    path.write_bytes(b"\xef\xbb\xbfab\xff")
    with pytest.raises(InputFileError, match="at offset 5 "):
        read_text_file(path, what="prompt")


def test_a_missing_file_and_a_folder_say_what_to_give(tmp_path):
    with pytest.raises(InputFileError, match=r"target file .*nope\.txt does not exist"):
        read_text_file(tmp_path / "nope.txt", what="target")
    with pytest.raises(InputFileError, match="is a folder; give the path of a file"):
        read_text_file(tmp_path, what="target")
