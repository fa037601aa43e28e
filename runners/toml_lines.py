"""Where each key of a TOML file is written, for `file:line: key: message` errors.

`tomllib` returns plain values without positions; `key_lines` walks the (already parsed, so
valid) text once more and maps every key path, in the form the validator reports it
(`experiments.e.variants[1].train.model`, `profiles.quick.experiments[0]`), to its line.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

TOKEN = re.compile(r'''
    (?P<newline>\n)
  | (?P<space>[ \t\r]+)
  | (?P<comment>\#[^\n]*)
  | (?P<string>"""[\s\S]*?"""(?!")|\'\'\'[\s\S]*?\'\'\'(?!\')|"(?:[^"\\\n]|\\.)*"|'[^'\n]*')
  | (?P<punct>[\[\]{},=.])
  | (?P<bare>[A-Za-z0-9_+\-:]+)
  | (?P<other>.)
''', re.VERBOSE)
SYNTAX_AT = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")


def has_content(text: str) -> bool:
    """False for a file of blank lines and comments only."""
    return any(line.strip() and not line.strip().startswith("#") for line in text.splitlines())


def line_of(lines: dict[str, int], key_path: str) -> int:
    """The line of `key_path`, else of its closest written parent, else 1."""
    path = key_path
    while path:
        if path in lines:
            return lines[path]
        path = re.sub(r"(\[\d+\]|\.?[^.\[\]]+)$", "", path)
    return 1


def syntax_error(path: Path, text: str, err: tomllib.TOMLDecodeError) -> str:
    """`file:line: key: message` for a TOML parse error (the key or table on that line)."""
    message = str(err)
    found = SYNTAX_AT.search(message)
    line = int(found.group(1)) if found else 1
    message = SYNTAX_AT.sub("", message)
    if message.startswith(("Cannot overwrite a value", "Cannot declare")):
        message = "duplicate key or table (each may be written once)"
    return f"{path}:{line}: {_key_at(text, line)}: TOML syntax error: {message}"


def _key_at(text: str, line: int) -> str:
    """The dotted key written on `line`, inside the table declared above it."""
    table = ""
    rows = text.splitlines()
    for row in rows[:line - 1]:
        header = re.match(r"\s*\[\[?\s*([^\]]+?)\s*\]", row)
        if header:
            table = header.group(1)
    row = rows[line - 1] if 0 < line <= len(rows) else ""
    header = re.match(r"\s*\[\[?\s*([^\]]*)", row)
    if header:
        return header.group(1).strip() or "(table header)"
    written = re.match(r"\s*([A-Za-z0-9_.\-\"' ]+?)\s*=", row)
    name = written.group(1).replace('"', "").replace("'", "") if written else ""
    return ".".join(p for p in (table, name) if p) or "(top level)"


def key_lines(text: str) -> dict[str, int]:
    """Every key path of a valid TOML text → the 1-based line where it is written."""
    return _Walker(text).walk()


class _Walker:
    def __init__(self, text: str):
        self.tokens = []
        line = 1
        for match in TOKEN.finditer(text):
            kind = match.lastgroup
            if kind not in ("space", "comment"):
                self.tokens.append((kind, match.group(), line, match.start()))
            line += match.group().count("\n")
        self.tokens.append(("end", "", line, len(text)))
        self.at = 0
        self.lines: dict[str, int] = {}
        self.arrays: dict[str, int] = {}  # array-of-tables path → tables seen

    def walk(self) -> dict[str, int]:
        table = ""
        try:
            while self.kind() != "end":
                if self.kind() == "newline":
                    self.at += 1
                elif self.value() == "[":
                    table = self.header()
                else:
                    self.key_value(table)
        except IndexError:
            pass  # the text was valid TOML for tomllib: only an unforeseen form ends here
        return self.lines

    def kind(self) -> str:
        return self.tokens[self.at][0]

    def value(self) -> str:
        return self.tokens[self.at][1]

    def line(self) -> int:
        return self.tokens[self.at][2]

    def skip_newlines(self) -> None:
        while self.kind() == "newline":
            self.at += 1

    def dotted_key(self, stop: tuple[str, ...]) -> list[str]:
        parts = []
        while self.value() not in stop:
            kind, value = self.tokens[self.at][:2]
            if kind == "string":
                parts.append(value[1:-1])
            elif value != ".":
                parts.append(value)
            self.at += 1
        return parts

    def header(self) -> str:
        """`[a.b]` or `[[a.b]]` (the brackets of an array of tables touch)."""
        line, start = self.line(), self.tokens[self.at][3]
        self.at += 1
        is_array = self.value() == "[" and self.tokens[self.at][3] == start + 1
        self.at += is_array
        parts = self.dotted_key(("]",))
        self.at += 1 + is_array
        path = ""
        for i, part in enumerate(parts):
            path = f"{path}.{part}" if path else part
            last = i == len(parts) - 1
            if last and is_array:
                self.arrays[path] = self.arrays.get(path, 0) + 1
                self.lines.setdefault(path, line)
            if path in self.arrays:
                path = f"{path}[{self.arrays[path] - 1}]"
            self.lines.setdefault(path, line)
        return path

    def key_value(self, table: str) -> None:
        line = self.line()
        parts = self.dotted_key(("=",))
        self.at += 1
        path = ".".join([table, *parts]) if table else ".".join(parts)
        self.lines.setdefault(path, line)
        self.parse_value(path)

    def parse_value(self, path: str) -> None:
        if self.value() == "{":
            self.at += 1
            while self.value() != "}":
                if self.value() == ",":
                    self.at += 1
                    continue
                self.skip_newlines()
                if self.value() == "}":
                    break
                line = self.line()
                parts = self.dotted_key(("=",))
                self.at += 1
                inner = ".".join([path, *parts])
                self.lines.setdefault(inner, line)
                self.parse_value(inner)
                self.skip_newlines()
            self.at += 1
        elif self.value() == "[":
            self.at += 1
            index = 0
            while True:
                self.skip_newlines()
                if self.value() == "]":
                    break
                item = f"{path}[{index}]"
                self.lines.setdefault(item, self.line())
                self.parse_value(item)
                index += 1
                self.skip_newlines()
                if self.value() == ",":
                    self.at += 1
            self.at += 1
        else:
            while self.kind() not in ("newline", "end") and self.value() not in (",", "]", "}"):
                self.at += 1
