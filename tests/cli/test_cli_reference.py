"""docs/cli.md documents every command, subcommand and option of the click command tree.

When a command or option is added, this test names exactly what the document lacks, so
that the section (or the row of an option table) can be written where it belongs.
"""

from __future__ import annotations

import re
from pathlib import Path

import click

from helixvcs.cli import cli

DOC = Path(__file__).parents[2] / "docs" / "cli.md"
_HEADING = re.compile(r"^## `helix ([^`]*)`", re.MULTILINE)


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every visible command path (``("hooks", "install")``), groups included."""
    found = []
    for name, command in sorted(group.commands.items()):
        if command.hidden:
            continue
        path = (*prefix, name)
        found.append(path)
        if isinstance(command, click.Group):
            found += _commands(command, path)
    return found


def _command(path: tuple[str, ...]) -> click.Command:
    command: click.Command = cli
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    return command


def _options(command: click.Command) -> list[str]:
    """The long names of a command's visible options (``--minimize``, ``--maximize``)."""
    names = []
    for param in command.params:
        if isinstance(param, click.Option) and not param.hidden:
            longs = [o for o in (*param.opts, *param.secondary_opts) if o.startswith("--")]
            names += longs or list(param.opts[:1])
    return names


def _sections(text: str) -> dict[str, str]:
    """Heading text after ``helix `` -> the section's text, for every command section."""
    sections = {}
    heads = list(_HEADING.finditer(text))
    for i, head in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(text)
        following = text.find("\n## ", head.end())
        end = min(end, following) if following != -1 else end
        sections[head.group(1)] = text[head.start() : end]
    return sections


def _covers(heading: str, path: tuple[str, ...]) -> bool:
    """``server start|stop|status`` covers ("server", "start"); ``run [REV]`` ("run",)."""
    words = heading.split()
    if len(words) < len(path):
        return False
    for word, name in zip(words, path, strict=False):
        if name not in word.split("|"):
            return False
    rest = words[len(path) :]
    return not rest or not re.fullmatch(r"[a-z][a-z-]*(\|[a-z-]+)*", rest[0])


def _section_of(sections: dict[str, str], path: tuple[str, ...]) -> str | None:
    found = [text for heading, text in sections.items() if _covers(heading, path)]
    return "\n".join(found) if found else None


def _anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.lower())
    return text.replace(" ", "-")


def test_every_command_and_option_is_in_docs_cli_md():
    text = DOC.read_text(encoding="utf-8")
    sections = _sections(text)
    missing = []
    for path in _commands(cli):
        command = _command(path)
        section = _section_of(sections, path)
        if section is None:
            if not isinstance(command, click.Group) or not any(
                _section_of(sections, (*path, sub)) for sub in command.commands
            ):
                missing.append(f"no section '## `helix {' '.join(path)} ...`' for the command")
            continue
        for option in _options(command):
            if not re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", section):
                missing.append(f"`helix {' '.join(path)}`: option {option} is not documented")
    globals_ = text[
        text.index("## Global options") : text.index("\n## ", text.index("## Global options") + 1)
    ]
    for option in _options(cli):
        if option not in globals_:
            missing.append(f"global option {option} is not in '## Global options'")
    assert not missing, "docs/cli.md lacks:\n  " + "\n  ".join(missing)


def test_the_commands_list_links_every_command_to_its_section():
    text = DOC.read_text(encoding="utf-8")
    listed = text[text.index("Commands:") : text.index("\n\n", text.index("Commands:"))]
    anchors = {_anchor(f"helix {h}") for h in _sections(text)}
    missing = []
    for name in sorted(n for n, c in cli.commands.items() if not c.hidden):
        link = re.search(rf"\[`{re.escape(name)}`\]\(#([^)]+)\)", listed)
        if link is None:
            missing.append(f"`{name}` is not in the 'Commands:' list")
        elif link.group(1) not in anchors:
            missing.append(f"the 'Commands:' link of `{name}` (#{link.group(1)}) is no heading")
    assert not missing, "docs/cli.md:\n  " + "\n  ".join(missing)
