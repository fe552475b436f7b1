"""Shared file and text helpers: every reader and stage may use them.

TSV tables with line numbers (:func:`read_tsv`), YAML without duplicate keys
(:func:`load_yaml`), size limits, safe output paths, and BNGL model text: the
filter that decides what may reach BNG2.pl (:func:`filter_bngl`) and bngfit's
private, content-checked cache of model texts and networks (:func:`private_dir`,
:func:`store_text`, :func:`store_file`, :func:`verified_file`).
"""

from ._bngl_cache import private_dir, safe_stem, store_file, store_text, verified_file
from ._bngl_filter import FilteredBngl, filter_bngl
from ._limits import MAX_OUTPUT_POINTS, too_many_points
from ._outputs import check_output_dir, check_output_file
from ._tables import parse_float, parse_int, read_text, read_tsv
from ._yaml import DuplicateKeyError, load_yaml

__all__ = [
    "MAX_OUTPUT_POINTS", "DuplicateKeyError", "FilteredBngl", "check_output_dir",
    "check_output_file", "filter_bngl", "load_yaml", "parse_float", "parse_int",
    "private_dir", "read_text", "read_tsv", "safe_stem", "store_file", "store_text",
    "too_many_points", "verified_file",
]
