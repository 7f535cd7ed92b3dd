"""docs/runbook-rebuild.md: every command it runs exists. A command is either on this machine
(the project's own scripts answer --help, make targets exist) or one of the tools its
prerequisites tell the operator to install."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT

RUNBOOK = ROOT / "docs" / "runbook-rebuild.md"
RESTORE = ROOT / "docs" / "runbook-restore.md"
SEPARATORS = set("|&;\n()")
KEYWORDS = {"until", "do", "done", "then", "fi", "if", "for", "while", "!", "sudo", "export",
            "else", "in"}  # fmt: skip
BUILTINS = {"cd", "unset", "export", "umask"}


def commands(runbook=RUNBOOK) -> list[list[str]]:
    """Each simple command of the runbook's sh blocks, as its words."""
    found = []
    for block in re.findall(r"```sh\n(.*?)```", runbook.read_text(), re.S):
        # line continuations, and placeholders such as <spaces key id>, are one word
        block = re.sub(r"<[A-Za-z][^<>\n]*>", "PLACEHOLDER", block.replace("\\\n", " "))
        # comments: shlex leaves them in when it splits on whitespace only
        block = re.sub(r"(^|[ \t])#.*$", "", block, flags=re.M)
        lexer = shlex.shlex(block, posix=True, punctuation_chars="|&;\n()")
        lexer.whitespace, lexer.whitespace_split, lexer.commenters = " \t", True, "#"
        words: list[str] = []
        for token in lexer:
            if set(token) <= SEPARATORS:
                if words:
                    found.append(words)
                words = []
            elif words or not (re.match(r"^[A-Za-z_]\w*=", token) or token in KEYWORDS):
                words.append(token)
        if words:
            found.append(words)
    return found


def prerequisites(runbook=RUNBOOK) -> set[str]:
    section = runbook.read_text().split("## 0. Prerequisites", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"`([a-z][a-z0-9-]*)`", section))


@pytest.mark.parametrize("runbook", [RUNBOOK, RESTORE], ids=lambda p: p.name)
def test_every_command_is_here_or_a_named_prerequisite(runbook):
    missing = sorted(
        {
            words[0]
            for words in commands(runbook)
            if words[0] not in BUILTINS
            and not words[0].startswith(".venv/")
            and not shutil.which(words[0])
            and words[0] not in prerequisites(runbook)
        }
    )
    assert missing == [], f"the runbook runs {missing}: name them in its prerequisites"


@pytest.mark.parametrize("runbook", [RUNBOOK, RESTORE], ids=lambda p: p.name)
def test_the_projects_own_scripts_answer_help_and_make_targets_exist(runbook):
    scripts = {w[1] for w in commands(runbook) if w[0] == ".venv/bin/python" and len(w) > 1}
    targets = {
        t for w in commands(runbook) if w[0] == "make" for t in w[1:] if not t.startswith("-")
    }
    assert scripts
    for script in sorted(scripts):
        result = subprocess.run(
            [sys.executable, str(ROOT / script), "--help"], capture_output=True, text=True
        )
        assert result.returncode == 0 and "usage" in result.stdout.lower(), script
    for target in sorted(targets):
        dry = subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True)
        assert "No rule to make target" not in dry.stderr, target


def test_the_parser_finds_the_commands_a_reader_sees():
    firsts = {words[0] for words in commands()}
    assert {"make", "doctl", "ssh", "wg-quick", "npm", "vault"} <= firsts
    assert not any(word.startswith("<") for words in commands() for word in words[:1])
