"""Command lines built from typed functions (jsonargparse), one style for every formscore command.

A command is a function whose parameters are its options and whose docstring's Args section is their
help; ``run_function(function, argv)`` parses ``argv`` into a call. Options are ``--name value``
(jsonargparse checks the type); a ``bool`` parameter is a flag (``--name``; ``--no_name`` or
``--no-name`` sets False); a ``Sequence`` parameter is repeatable (``--csv a.csv --csv b.csv``; a
``Literal`` element type gives its choices), or
the command's positional arguments (zero or more) when named by ``positional``.
"""

import argparse
import inspect
import typing
from collections.abc import Callable, Sequence
from typing import Any

import docstring_parser
from jsonargparse import ArgumentParser


class Flag(argparse.BooleanOptionalAction):
    """``--name`` sets True; ``--no-name`` and ``--no_name`` set False."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, **kwargs)
        self.option_strings = [*self.option_strings, f"--no_{dest}"]

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        setattr(namespace, self.dest, not (option_string or "").startswith(("--no-", "--no_")))


def is_sequence(hint: Any) -> bool:
    """Whether a type hint is a list / tuple / Sequence of one element type."""
    return typing.get_origin(hint) in (list, tuple, Sequence) and len(typing.get_args(hint)) == 1


def choices_of(hint: Any) -> tuple[Any, ...] | None:
    """The allowed values of a sequence whose element type is a ``Literal``, else None."""
    element = typing.get_args(hint)[0]
    return typing.get_args(element) if typing.get_origin(element) is typing.Literal else None


def is_flag(hint: Any) -> bool:
    """Whether a type hint is ``bool`` or ``bool | None``."""
    return hint in (bool, bool | None)


def function_parser(function: Callable[..., Any], prog: str, positional: str | None = None) -> ArgumentParser:
    """A parser whose options are ``function``'s parameters (see the module docstring); the
    description is the docstring without its Args section."""
    docstring = docstring_parser.parse(function.__doc__ or "")
    helps = {param.arg_name: param.description for param in docstring.params}
    description = "\n\n".join(text for text in (docstring.short_description, docstring.long_description) if text)
    parser = ArgumentParser(prog=prog, description=description)
    hints = typing.get_type_hints(function)
    defaults = {name: param.default for name, param in inspect.signature(function).parameters.items()}
    special = [name for name in defaults if is_flag(hints[name]) or is_sequence(hints[name])]
    for name in special:
        if name == positional:
            parser.add_argument(name, nargs="*", default=[], help=helps.get(name))
        elif is_flag(hints[name]):
            parser.add_argument(f"--{name}", action=Flag, default=defaults[name], help=helps.get(name))
        else:
            parser.add_argument(f"--{name}", action="append", default=[], help=f"{helps.get(name)} (repeatable)")
    parser.add_function_arguments(function, skip=set(special), as_group=False)
    return parser


def run_function(function: Callable[..., Any], argv: list[str] | None, prog: str, positional: str | None = None) -> Any:
    """``function`` called with the options parsed from ``argv`` (None: ``sys.argv[1:]``); bad
    arguments exit with status 2 and the usage."""
    parser = function_parser(function, prog, positional)
    options = parser.parse_args(argv)
    hints = typing.get_type_hints(function)
    values = {name: options[name] for name in inspect.signature(function).parameters}
    for name in values.keys() & {name for name, hint in hints.items() if is_sequence(hint)}:
        choices = choices_of(hints[name])
        if choices is None:  # e.g. str -> Path
            values[name] = [typing.get_args(hints[name])[0](text) for text in values[name]]
        elif bad := [text for text in values[name] if text not in choices]:
            parser.error(f"argument --{name}: invalid choice: {bad[0]!r} (choose from {', '.join(choices)})")
    return function(**values)
