"""``auth = "client"`` in the config, in claude's environment, and in the statusline's request."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from ccm_tui.claude_env import claude_env
from ccm_tui.commands import config as config_cmd
from ccm_tui.commands.statusline import token_header
from ccm_tui.config import ConfigError, parse_config, template

CLIENT = """
[providers.claude]
type = "anthropic"
auth = "client"
models = ["claude-sonnet-4-5"]
{extra}
[router]
default = "claude,claude-sonnet-4-5"
"""
OTHER = """
[providers.deepseek]
type = "openai"
preset = "deepseek"
api_key = "{key}"
models = ["deepseek-chat"]
"""
ENV = {"DEEPSEEK_API_KEY": "sk-deepseek-42", "ANTHROPIC_API_KEY": "sk-ant-claude-own-key"}
PROXY = {"ANTHROPIC_BASE_URL": "http://127.0.0.1:1234", "ANTHROPIC_CUSTOM_HEADERS": "x-ccm-token: ccm-tok"}


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, env=ENV, source="cfg.toml")
    return caught.value.problems


def test_client_auth_is_parsed_and_the_template_offers_it() -> None:
    config = parse_config(CLIENT.format(extra=OTHER.format(key="$DEEPSEEK_API_KEY")), env=ENV)
    assert config.client_auth_provider() is config.providers["claude"]
    assert config.providers["claude"].api_key is None and config.providers["deepseek"].auth == "key"
    assert '# auth = "client"' in template()
    login = parse_config(template(keep_claude_login=True), env={})  # no key needed at all
    anthropic = login.providers["anthropic"]
    assert anthropic.auth == "client" and anthropic.api_key is None and not anthropic.key_vars
    assert "$ANTHROPIC_API_KEY" not in template(keep_claude_login=True)


def test_no_provider_may_read_claudes_key_variable() -> None:
    text = CLIENT.format(extra=OTHER.format(key="$ANTHROPIC_API_KEY"))
    line = text.splitlines().index('api_key = "$ANTHROPIC_API_KEY"') + 1
    (problem,) = problems(text)
    assert problem.startswith(f"cfg.toml:{line}: providers.deepseek.api_key: reads $ANTHROPIC_API_KEY")
    assert "sk-ant-claude-own-key" not in problem
    # without a client-auth provider the same provider is fine
    parse_config(OTHER.format(key="$ANTHROPIC_API_KEY") + '[router]\ndefault = "deepseek,deepseek-chat"\n', env=ENV)


@pytest.mark.parametrize(("extra", "where", "words"), [
    ('api_key = "$DEEPSEEK_API_KEY"\n', "providers.claude.api_key", "not used with auth"),
    ('headers = { x-api-key = "k" }\n', "providers.claude.headers", "carries claude's"),
])
def test_client_auth_takes_no_key_of_its_own(extra: str, where: str, words: str) -> None:
    text = CLIENT.format(extra="").replace('auth = "client"\n', f'auth = "client"\n{extra}')
    (problem,) = problems(text)
    assert f": {where}: " in problem and words in problem and problem.startswith("cfg.toml:")


def test_client_auth_only_for_anthropic_and_only_once() -> None:
    other = OTHER.format(key="$DEEPSEEK_API_KEY").replace('preset = "deepseek"', 'preset = "deepseek"\nauth = "client"')
    (problem,) = problems(CLIENT.format(extra=other))
    assert ": providers.deepseek.auth: " in problem and 'type = "anthropic"' in problem
    second = '[providers.second]\ntype = "anthropic"\nauth = "client"\nmodels = ["m"]\n'
    (problem,) = problems(CLIENT.format(extra=second))
    assert ": providers.second.auth: only one provider" in problem
    (problem,) = problems(CLIENT.format(extra="").replace('"client"', '"login"'))
    assert ": providers.claude.auth: expected " in problem


def test_config_check_names_the_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-claude-own-key")
    path = tmp_path / "config.toml"
    text = CLIENT.format(extra=OTHER.format(key="$ANTHROPIC_API_KEY"))
    path.write_text(text)
    assert config_cmd.check(argparse.Namespace(config=str(path))) == 1
    out = capsys.readouterr().out
    line = text.splitlines().index('api_key = "$ANTHROPIC_API_KEY"') + 1
    assert f"{path}:{line}: providers.deepseek.api_key: reads $ANTHROPIC_API_KEY" in out


def test_claude_keeps_its_credentials_and_gets_the_token_as_a_header() -> None:
    config = parse_config(CLIENT.format(extra=OTHER.format(key="$DEEPSEEK_API_KEY")), env=ENV)
    environ = {**ENV, "ANTHROPIC_AUTH_TOKEN": "users-gateway-token", "PATH": "/bin",
               "ANTHROPIC_CUSTOM_HEADERS": "X-Team: blue\nx-ccm-token: stale\n\nX-Env: dev"}
    env = claude_env(config, PROXY, embedded=True, environ=environ)
    assert env["ANTHROPIC_API_KEY"] == "sk-ant-claude-own-key"  # claude's own, untouched
    assert env["ANTHROPIC_AUTH_TOKEN"] == "users-gateway-token"
    assert "DEEPSEEK_API_KEY" not in env and "sk-deepseek-42" not in "".join(env.values())
    assert env["ANTHROPIC_CUSTOM_HEADERS"] == "X-Team: blue\nX-Env: dev\nx-ccm-token: ccm-tok"
    alone = claude_env(config, PROXY, embedded=False, environ={"PATH": "/bin"})
    assert alone["ANTHROPIC_CUSTOM_HEADERS"] == "x-ccm-token: ccm-tok" and "ANTHROPIC_AUTH_TOKEN" not in alone


def test_statusline_sends_our_header_not_claudes_credential() -> None:
    env = {"ANTHROPIC_CUSTOM_HEADERS": "X-Team: blue\nx-ccm-token: ccm-tok", "ANTHROPIC_API_KEY": "sk-ant-own"}
    assert token_header(env) == "x-ccm-token: ccm-tok"
    assert token_header({"ANTHROPIC_AUTH_TOKEN": "t"}) == "Authorization: Bearer t"
    assert token_header({}) is None
