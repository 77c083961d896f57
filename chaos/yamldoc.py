"""Reading a YAML file with its line numbers, so every error names file:line and the fix.

    doc = YamlDoc.load(path, ExperimentInvalid)
    top = doc.mapping(doc.root, "the experiment", allowed=("name", "faults"), example="name: x")
    name = doc.string(top["name"], "name")

Values are read from PyYAML's node tree (not from plain dicts) so that each one keeps the
line it came from.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import yaml

from chaos.errors import ConfigInvalid

T = TypeVar("T")


@dataclass(frozen=True)
class Entry:
    """One key of a mapping: the key's node and the value's node."""

    key: yaml.Node
    value: yaml.Node


def suggest(word: str, choices: Iterable[str]) -> str:
    """' (did you mean 'x'?)' when `word` is close to one of `choices`, else ''."""
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


class YamlDoc:
    """A parsed YAML document that reports errors as `error(f"{file}:{line}: ...")`."""

    def __init__(self, root: yaml.Node | None, source: str, error: type[ConfigInvalid]) -> None:
        self.root = root
        self.source = source
        self.error = error

    @classmethod
    def load(cls, path: Path | str, error: type[ConfigInvalid], what: str) -> YamlDoc:
        """Read and parse `path`; a missing file or bad syntax raises `error`."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise error(f"cannot read {what} {path}: {exc.strerror}; check the path") from exc
        return cls.parse(text, str(path), error)

    @classmethod
    def parse(cls, text: str, source: str, error: type[ConfigInvalid]) -> YamlDoc:
        """Parse `text`, naming `source` in errors."""
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = f":{mark.line + 1}" if mark is not None else ""
            problem = getattr(exc, "problem", None) or str(exc)
            raise error(f"{source}{line}: not valid YAML: {problem}; fix the syntax") from None
        return cls(root, source, error)

    def where(self, node: yaml.Node | None) -> str:
        """`file:line` of `node` (just the file when there is no node)."""
        return self.source if node is None else f"{self.source}:{node.start_mark.line + 1}"

    def fail(self, node: yaml.Node | None, message: str) -> ConfigInvalid:
        """The error to raise for `node`."""
        return self.error(f"{self.where(node)}: {message}")

    def mapping(
        self,
        node: yaml.Node | None,
        what: str,
        *,
        allowed: Iterable[str] | None = None,
        required: Iterable[str] = (),
        example: str,
    ) -> dict[str, Entry]:
        """The entries of a mapping node; unknown, repeated or missing keys are errors."""
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, f"{what} must be a mapping, e.g. {example}")
        allowed_keys = None if allowed is None else tuple(allowed)
        entries: dict[str, Entry] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise self.fail(key_node, f"keys of {what} must be plain names")
            key = str(key_node.value)
            if key in entries:
                raise self.fail(key_node, f"{key!r} appears twice in {what}; keep one")
            if allowed_keys is not None and key not in allowed_keys:
                raise self.fail(
                    key_node,
                    f"unknown key {key!r} in {what}{suggest(key, allowed_keys)}; "
                    f"it takes {', '.join(allowed_keys)}",
                )
            entries[key] = Entry(key_node, value_node)
        for key in required:
            if key not in entries:
                raise self.fail(node, f"{what} needs {key!r}, e.g. {example}")
        return entries

    def sequence(self, node: yaml.Node, what: str, example: str) -> list[yaml.Node]:
        """The items of a sequence node."""
        if not isinstance(node, yaml.SequenceNode):
            raise self.fail(node, f"{what} must be a list, e.g. {example}")
        return list(node.value)

    def scalar(self, node: yaml.Node, what: str, example: str) -> object:
        """The Python value of a scalar node (str, int, float, bool or None)."""
        if not isinstance(node, yaml.ScalarNode):
            raise self.fail(node, f"{what} must be a single value, e.g. {example}")
        return _construct(node)

    def string(self, node: yaml.Node, what: str, example: str) -> str:
        """A non-empty string."""
        value = self.scalar(node, what, example)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(node, f"{what} must be a non-empty string, e.g. {example}")
        return value

    def strings(self, node: yaml.Node, what: str, example: str) -> tuple[str, ...]:
        """A list of non-empty strings (a single string counts as a list of one)."""
        if isinstance(node, yaml.ScalarNode):
            return (self.string(node, what, example),)
        return tuple(
            self.string(item, what, example) for item in self.sequence(node, what, example)
        )

    def integer(self, node: yaml.Node, what: str, example: str, *, minimum: int = 0) -> int:
        """An integer of at least `minimum`."""
        value = self.scalar(node, what, example)
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise self.fail(node, f"{what} must be an integer >= {minimum}, got {value!r}")
        return value

    def parsed(self, node: yaml.Node, what: str, parse: Callable[[object], T], example: str) -> T:
        """A scalar run through `parse` (which raises ValueError with the accepted forms)."""
        value = self.scalar(node, what, example)
        try:
            return parse(value)
        except ValueError as exc:
            raise self.fail(node, f"{what}: {exc}") from None


def _construct(node: yaml.ScalarNode) -> object:
    # Resolve the scalar the way safe_load would (ints, floats, bools, null, strings).
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    finally:
        loader.dispose()
