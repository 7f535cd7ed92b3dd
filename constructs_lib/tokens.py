"""Whether a value holds a cdktf token, asked of the jsii runtime only when it can."""

from __future__ import annotations

from typing import Any

# cdktf 0.21.0 encodes every token inside a string as "${TfToken[...]}", "#{TfToken[...]}"
# (a list) or "&{TfToken[...]}" (a map), and Token.isUnresolved of a string only looks for
# those (lib/tokens/private/encoding.js:20-22 and unresolved(), 294-312).
_MARK = "TfToken["


def is_unresolved(value: Any) -> bool:
    """``Token.is_unresolved(value)``, without the round trip to the jsii runtime for a
    string that holds no token (a synthesis asks this several hundred times)."""
    if isinstance(value, str) and _MARK not in value:
        return False
    from cdktf import Token

    return Token.is_unresolved(value)
