"""YAML read strictly: a key given twice in one mapping is an error.

PyYAML keeps the last value of a repeated key without a word, so a problem file
with two ``measurement_files`` keys silently fits only the second list. Here
the loader refuses it, naming the key and both lines.
"""

from __future__ import annotations

from typing import Any

import yaml


class DuplicateKeyError(yaml.MarkedYAMLError):
    """A mapping has the same key twice (``problem_mark`` is the second one)."""


class _StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses duplicate mapping keys."""

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict[Any, Any]:
        """PyYAML's hook for a mapping, after a check for repeated keys."""
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, yaml.Mark] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # '<<' merges are YAML's own override, not a repeat
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.get(key)
                except TypeError:  # an unhashable key: PyYAML's own error follows
                    continue
                if first is not None:
                    raise DuplicateKeyError(
                        None, None,
                        f"key '{key}' appears twice in one mapping (first on line "
                        f"{first.line + 1}); remove one",
                        key_node.start_mark)
                seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


def load_yaml(text: str) -> Any:
    """Parse YAML text safely (no Python objects), refusing duplicate keys.

    Returns
    -------
    object
        The document: a mapping, list, scalar or None.

    Raises
    ------
    yaml.YAMLError
        Malformed YAML; :class:`DuplicateKeyError` for a repeated key (its
        ``problem`` is the message, ``problem_mark`` where the key is).
    """
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except RecursionError:  # PyYAML builds nested nodes recursively
        raise yaml.YAMLError("nested too deeply to read") from None
