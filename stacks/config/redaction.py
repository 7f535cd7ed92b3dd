"""Telling secret-shaped text apart, so that no message echoes it and no config field holds it.

Nothing under config/ is secret (secrets live in Vault: docs/secrets.md), so a value that
looks like one is a mistake: a pasted token, a password in a URL, a private key. ``secret_shape``
says why a string looks secret; ``redact`` masks every such part of a message; ``printable``
escapes control characters so a file name or value cannot rewrite the terminal.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter

REDACTED = "<redacted>"
# Prefixes of credentials the project's operators handle (GitHub, DigitalOcean, Slack, AWS,
# GitLab, Vault/OpenBao service and batch tokens, Doppler, Discord webhooks' tokens, JWTs).
_TOKEN = re.compile(
    r"(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|do[opr]_v1_[A-Fa-f0-9]{20,}"
    r"|xox[abposr]-[A-Za-z0-9-]{10,}|A(?:KIA|SIA)[A-Z0-9]{16}|glpat-[A-Za-z0-9_-]{20,}"
    r"|hv[sbr]\.[A-Za-z0-9_-]{20,}|dp\.(?:st|ct|sa|scim|audit)\.[A-Za-z0-9_.-]{20,}"
    r"|eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,})"
)
_PRIVATE_KEY = re.compile(
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----.*?(?:-----END [A-Z0-9 ]*-----|$)", re.S
)
# scheme://user:password@host -> the password part.
_URL_PASSWORD = re.compile(
    r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*:)(?P<password>[^@\s/]+)(?=@)"
)
# Runs of base64 characters; "-" splits (hostnames like DigitalOcean's are many short parts).
_WORD = re.compile(r"[A-Za-z0-9+/=_]{20,}")
# Content digests and commit ids name things; they are not secret.
_DIGEST = re.compile(r"^(?:sha256:)?(?:[a-f0-9]{40}|[a-f0-9]{64})$")
ENTROPY_BITS = 3.5
# Random text switches between lower case, upper case and digits at about every other
# character; identifiers (TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305, VAULT_ADDR/v1/sys) seldom do.
SWITCH_RATIO = 0.3


def _entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def _class(char: str) -> str:
    return "d" if char.isdigit() else "u" if char.isupper() else "l"


def _random_looking(word: str) -> bool:
    """Long, mixed letters and digits, switching case and digits like random key material
    does, with its entropy."""
    if _DIGEST.match(word):
        return False
    core = [c for c in word if c.isalnum()]
    if len(core) < 20 or not any(c.isdigit() for c in core):
        return False
    switches = sum(_class(a) != _class(b) for a, b in itertools.pairwise(core))
    return switches / len(core) >= SWITCH_RATIO and _entropy(word) >= ENTROPY_BITS


def secret_shape(text: str, *, public_keys: bool = False) -> str:
    """Why ``text`` looks like a secret, or "" when it does not. With ``public_keys`` (a field
    that holds PGP public keys), only a private key counts."""
    if _PRIVATE_KEY.search(text):
        return "a private key block"
    if public_keys:
        return ""
    if _TOKEN.search(text):
        return "a token with a known credential prefix"
    if _URL_PASSWORD.search(text):
        return "a URL with a password in it"
    if any(_random_looking(word) for word in _WORD.findall(text)):
        return "a long random string, shaped like a key or token"
    return ""


def redact(message: str) -> str:
    """``message`` with every secret-shaped part replaced by ``<redacted>``."""
    message = _PRIVATE_KEY.sub(REDACTED, message)
    message = _TOKEN.sub(REDACTED, message)
    message = _URL_PASSWORD.sub(lambda m: m["head"] + REDACTED, message)
    return _WORD.sub(lambda m: REDACTED if _random_looking(m[0]) else m[0], message)


def tool_failure(error: BaseException) -> str:
    """The one line a failure of the tool itself (not of the user's input) is reported with:
    its kind and message, masked, escaped and cut short."""
    message = printable(redact(str(error)))[:300]
    return f"synth failed (the tool, not your input): {type(error).__name__}: {message}"


def printable(text: str) -> str:
    """``text`` with control characters (and other non-printables) escaped."""
    return "".join(ch if ch.isprintable() or ch == " " else repr(ch)[1:-1] for ch in text)
