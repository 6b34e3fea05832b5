"""The command-line contract for bad arguments: argparse's own refusals (unknown option, bad
int, missing argument, unknown command) are one-line errors like every other, and one JSON
object on stdout with --json wherever it stands. Parsing fails before any profile is opened,
so these run in-process through ``app.cli.main`` without one; one subprocess checks the real
exit path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.cli import build_parser, main

BAD_ARGUMENTS = [
    (("search", "tomato", "-k", "abc"), "invalid int value: 'abc'"),
    (("search", "-tomato"), "required: query"),
    (("search", "tomato", "--bogus"), "unrecognized arguments: --bogus"),
    (("search",), "required: query"),
    (("zzz",), "invalid choice: 'zzz'"),
    (("--bogus",), "unrecognized arguments: --bogus"),
    (("folders",), "required: ACTION"),
    (("folders", "add"), "required: path"),
    (("folders", "nope"), "invalid choice: 'nope'"),
    (("memory", "forget"), "required"),
    (("bench", "retrieval"), "--dataset"),
    (("index", "extra"), "unrecognized arguments: extra"),
    (("ask",), "required"),
]


@pytest.mark.parametrize("where", ["end", "start"])
@pytest.mark.parametrize(("argv", "expected"), BAD_ARGUMENTS)
def test_bad_arguments_give_one_json_error(argv: tuple[str, ...], expected: str, where: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    full = [*argv, "--json"] if where == "end" else ["--json", *argv]
    code = main(full)
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert code == 2
    assert len(lines) == 1, captured
    payload = json.loads(lines[0])
    assert list(payload) == ["error"]
    assert expected in payload["error"]
    assert "--help" in payload["error"]
    assert captured.err.strip().count("\n") == 0  # the same error, one line, for a person


@pytest.mark.parametrize(("argv", "expected"), BAD_ARGUMENTS)
def test_bad_arguments_without_json_are_one_line_on_stderr(
        argv: tuple[str, ...], expected: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(list(argv))
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert captured.err.startswith("familiar: error: ")
    assert expected in captured.err and captured.err.strip().count("\n") == 0


def test_json_before_the_command_is_not_lost() -> None:
    parser = build_parser()
    assert parser.parse_args(["--json", "search", "x"]).json is True
    assert parser.parse_args(["search", "x", "--json"]).json is True
    assert parser.parse_args(["search", "x"]).json is False


def test_json_without_a_command_is_an_error_not_the_window(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--json"]) == 2
    payload = json.loads(capsys.readouterr().out)
    assert list(payload) == ["error"]
    assert "--json needs a command" in payload["error"]


def test_a_query_that_begins_with_a_dash_goes_after_double_dash() -> None:
    args = build_parser().parse_args(["search", "--json", "-k", "3", "--", "-tomato"])
    assert (args.query, args.k, args.json) == ("-tomato", 3, True)


def test_search_help_says_how_to_search_for_a_dash(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", "--help"]) == 0
    assert "familiar search --json -k 5 -- -tomato" in " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize("value", ["zzz", ".", "", "tar.gz"])
def test_search_unknown_type_is_refused_before_unlocking(
        value: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["search", "tomato", "--type", value, "--json"])
    error = json.loads(capsys.readouterr().out)["error"]
    assert code == 2
    assert f"--type {value!r}" in error
    assert " md," in error and " pdf," in error  # names what is supported


def test_argument_errors_in_a_subprocess(home: Path) -> None:
    from tests.integration.cli import run

    done = run(home, "search", "tomato", "-k", "abc", "--json", timeout=120)
    assert done.returncode == 2, done.stderr[-500:]
    assert json.loads(done.stdout)["error"].startswith("argument -k: invalid int value: 'abc'")
    assert done.stdout.count("\n") == 1
    assert done.stderr.strip().count("\n") == 0
    done = run(home, "search", "-tomato", timeout=120)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("familiar: error: ") and done.stderr.strip().count("\n") == 0


def test_a_reader_that_goes_away_is_no_error_trace(home: Path) -> None:
    import subprocess
    import sys

    from tests.integration.cli import familiar_env

    child = subprocess.Popen([sys.executable, "-m", "app", "doctor", "--json"],
                             env=familiar_env(home), stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert child.stdout is not None
    child.stdout.close()  # like `familiar doctor --json | head -c 0`
    _out, err = child.communicate(timeout=120)
    assert child.returncode == 1
    assert "Traceback" not in err and "BrokenPipeError" not in err

