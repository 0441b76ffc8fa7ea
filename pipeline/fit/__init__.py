"""Reading FIT files: the container, the only fitparse door, and the frames a file becomes.

The public API (import it from here)::

    parse_fit(data, now=...) -> ParsedFile   bytes in, frames and notes out; never raises
    parse_file(path, now)                    a parser process's job: read + sha256 + parse_fit
    read_file(path)                          bytes, or why they could not be read
    fit_declared_length / fit_is_complete    is a file whole yet (the inbox's readiness check)
    enable_fast_decode()                     the fitparse speed-ups, for a parser process

Modules, in the order a file goes through them (only ``worker`` does I/O):

- ``container``: chunk walk, declared length, completeness, CRC (pure bytes functions)
- ``decode``: the only fitparse importer; one pass over the messages into plain lists, and the
  guarded speed-ups
- ``fields``: reading a decoded message's fields by number with the profile's scales
- ``hr``: strap-buffered ``hr`` messages expanded into samples
- ``timebase``: device-relative clocks anchored; FIT seconds to UTC
- ``summary``: file identity and session summaries
- ``frames``: everything into the frames of ``schemas``, sessions assigned
- ``parse``: ``parse_fit``, the status and reason of every byte string
- ``worker``: ``parse_file``/``read_file``, what a parser process imports
- ``schemas``: the frames' schemas and ``ParsedFile``; ``profile``: generated from the FIT SDK
"""

from pipeline.fit.container import fit_crc, fit_declared_length, fit_is_complete
from pipeline.fit.decode import enable_fast_decode
from pipeline.fit.parse import PARSER_VERSION, parse_fit
from pipeline.fit.schemas import FileInfo, Note, ParsedFile, SessionProblem
from pipeline.fit.worker import parse_file, read_file

__all__ = [
    "PARSER_VERSION",
    "FileInfo",
    "Note",
    "ParsedFile",
    "SessionProblem",
    "enable_fast_decode",
    "fit_crc",
    "fit_declared_length",
    "fit_is_complete",
    "parse_file",
    "parse_fit",
    "read_file",
]
