"""constructs_lib.tokens.is_unresolved answers as cdktf's Token.is_unresolved does."""

from __future__ import annotations

from cdktf import App, Fn, TerraformStack, TerraformVariable, Token

from constructs_lib.tokens import is_unresolved


def test_it_agrees_with_cdktf_on_plain_values_and_on_every_kind_of_token(tmp_path):
    stack = TerraformStack(App(outdir=str(tmp_path)), "tokens")
    variable = TerraformVariable(stack, "v", type="string")
    numbers = TerraformVariable(stack, "n", type="number")
    items = TerraformVariable(stack, "l", type="list(string)")
    values = [
        "plain",
        "",
        "${var.literal} is Terraform's syntax, not a token",
        "TfToken but no bracket",
        variable.string_value,
        f"prefix-{variable.string_value}-suffix",
        Fn.sha256(variable.string_value),
        Token.as_string(numbers.number_value),
        numbers.number_value,
        3,
        items.list_value,
        ["plain"],
        None,
    ]
    answers = [(value, is_unresolved(value), Token.is_unresolved(value)) for value in values]
    assert [ours for _, ours, _ in answers] == [theirs for _, _, theirs in answers], answers
    # AND both kinds of answer occur, so the comparison is not vacuous
    assert {ours for _, ours, _ in answers} == {True, False}
