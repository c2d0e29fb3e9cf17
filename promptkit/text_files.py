"""Reads the user's text files exactly as written: every byte kept, UTF-8 or a clear error.

A prompt's line endings are part of the prompt: `\\r\\n` and a lone `\\r` are
tokens the model sees, so no newline translation happens. The one byte
sequence dropped is a leading UTF-8 byte-order mark (EF BB BF), which editors
on Windows write as an encoding marker, not as text.
"""

from __future__ import annotations

import codecs
from pathlib import Path

from promptkit.errors import InputFileError


def read_text_file(path: Path, *, what: str) -> str:
    """Returns the text of a UTF-8 file, byte for byte, without a leading byte-order mark.

    Args:
        path: the file.
        what: what the file holds, for messages (e.g. "prompt", "case").

    Returns:
        The decoded text; line endings (`\\r\\n`, `\\r`, `\\n`) as in the file.

    Raises:
        InputFileError: If the file cannot be read or is not UTF-8, naming the
            file and, for bad encoding, the byte offset.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputFileError(f"The {what} file {path} does not exist; check the path.") from None
    except IsADirectoryError:
        raise InputFileError(f"The {what} file {path} is a folder; give the path of a file.") from None
    except OSError as error:
        raise InputFileError(f"Cannot read the {what} file {path}: {error.strerror}.") from None
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
        offset = len(codecs.BOM_UTF8)
    else:
        offset = 0
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InputFileError(
            f"The {what} file {path} is not UTF-8 text: byte 0x{data[error.start]:02x} at offset "
            f"{error.start + offset} is {error.reason}. Save the file as UTF-8 and try again."
        ) from None
