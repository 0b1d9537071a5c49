"""heka.toml is a real Heka 0.10 config: it parses, and names only plugins and
options that Heka 0.10 has (Heka rejects unknown keys at startup, so a typo
would stop hekad). The allowed lists are test data from the Heka reference.
The commented-out sections (signer, ElasticSearchOutput, hostname) are checked
too, by uncommenting them, because users are told to enable them as written.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
HEKA_TOML = ROOT / "heka.toml"
OPTIONS = json.loads((Path(__file__).parent / "data" / "heka_options.json").read_text())

# A commented line that is config (a [section] or key = value), not prose.
_COMMENTED_CONFIG = re.compile(r"^(\s*)#\s*(\[[A-Za-z0-9_.]+\]\s*$|[a-z_]+ = \S.*$)")


def _uncommented(text: str) -> str:
    return "\n".join(_COMMENTED_CONFIG.sub(r"\1\2", line) for line in text.splitlines())


def _configs() -> dict[str, dict[str, Any]]:
    text = HEKA_TOML.read_text()
    return {"as shipped": tomllib.loads(text), "all enabled": tomllib.loads(_uncommented(text))}


def _problems(config: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    plugins = OPTIONS["plugins"]
    common = OPTIONS["common"]
    subsections = OPTIONS["subsections"]
    for section, body in config.items():
        if section == "hekad":
            problems += [f"[hekad] {k}" for k in body if k not in OPTIONS["hekad"]]
            continue
        ptype = body.get("type", section)
        spec = plugins.get(ptype)
        if spec is None:
            problems.append(f"[{section}] unknown plugin type {ptype}")
            continue
        allowed = set(common[spec["category"]]) | set(spec["options"])
        if spec.get("sandbox"):
            allowed |= set(common["sandbox"])
        for key, value in body.items():
            if key not in allowed:
                problems.append(f"[{section}] {ptype} has no option {key!r}")
                continue
            if not isinstance(value, dict) or key in ("field_mappings", "translation"):
                continue
            if key == "signer":
                for signer, keys in value.items():
                    if not re.fullmatch(r"[A-Za-z0-9-]+_\d+", signer):
                        problems.append(f"[{section}.signer.{signer}] is not NAME_VERSION")
                    allowed_sub = subsections[f"{ptype}.signer.*"]
                    problems += [f"[{section}.signer.{signer}] {k}" for k in keys
                                 if k not in allowed_sub]
            else:
                allowed_sub = subsections.get(f"{ptype}.{key}")
                if allowed_sub is None:
                    problems.append(f"[{section}.{key}] is not a subsection of {ptype}")
                elif allowed_sub != "*":
                    problems += [f"[{section}.{key}] {k}" for k in value if k not in allowed_sub]
    return problems


@pytest.mark.parametrize("variant", ["as shipped", "all enabled"])
def test_heka_toml_names_only_heka_010_plugins_and_options(variant: str) -> None:
    config = _configs()[variant]
    assert _problems(config) == []


def test_the_checker_rejects_unknown_options_and_plugins() -> None:
    bad = tomllib.loads(
        '[In]\ntype = "TcpInput"\nparser_type = "message.proto"\n'
        '[In.signer.ops_0]\nhmac_key = "x"\n[X]\ntype = "NoSuchOutput"\n'
        '[hekad]\nmaxproc = 2\n'
    )
    problems = _problems(bad)
    assert "[In] TcpInput has no option 'parser_type'" in problems
    assert "[In] TcpInput has no option 'signer'" in problems  # the 0.8 form
    assert "[X] unknown plugin type NoSuchOutput" in problems
    assert "[hekad] maxproc" in problems


def test_enabled_variant_really_enables_the_commented_sections() -> None:
    enabled = _configs()["all enabled"]
    assert "ElasticSearchOutput" in enabled
    assert "audit_1" in enabled["AuditFramingSplitter"]["signer"]
    assert "hostname" in enabled["audit_decoder"]["config"]


def test_references_between_sections_resolve() -> None:
    for variant, config in _configs().items():
        for section, body in config.items():
            for key in ("decoder", "splitter", "encoder"):
                name = body.get(key) if isinstance(body, dict) else None
                if name is not None:
                    assert name in config, f"{variant}: [{section}] {key} = {name} undefined"


def test_both_paths_are_configured_as_documented() -> None:
    config = _configs()["as shipped"]
    tcp = config["AuditTcpInput"]
    assert tcp["type"] == "TcpInput" and tcp["address"].endswith(":5565")
    assert config[tcp["splitter"]]["type"] == "HekaFramingSplitter"
    assert tcp["decoder"] == "ProtobufDecoder"
    logs = config["AuditLogInput"]
    assert logs["type"] == "LogstreamerInput"
    assert logs["log_directory"] == "/var/log/audit"
    assert logs["priority"] == ["^Seq"]
    # Heka anchors file_match with "$"; it must take the live file and auditd's
    # rotations, and nothing else in /var/log/audit.
    pattern = re.compile(logs["file_match"] + "$")
    for name in ("audit.log", "audit.log.1", "audit.log.12"):
        match = pattern.match(name)
        assert match is not None, name
        assert match.group("Seq") == name[len("audit.log."):]
    for name in ("audit.log.gz", "audit.log.1.bak", "other.log"):
        assert pattern.match(name) is None, name
    decoder = config[logs["decoder"]]
    assert decoder["type"] == "SandboxDecoder"
    assert decoder["filename"] == "lua_decoders/audit_decoder.lua"
    assert (ROOT / "lua" / "audit_decoder.lua").exists()
    assert (ROOT / "lua" / "decoders" / "audit_heka.lua").exists()  # what it requires
    assert decoder["config"]["type"] == "audit_log"
    assert decoder["config"]["payload_keep"] is True
    encoder = config["ESJsonEncoder"]
    assert encoder["es_index_from_timestamp"] is True
    assert "%{Type}" in encoder["index"] and "%{%Y.%m.%d}" in encoder["index"]
    assert config["LogOutput"]["message_matcher"] == "Type == 'audit_log'"
    assert config["LogOutput"]["encoder"] == "ESJsonEncoder"
    assert "ElasticSearchOutput" not in config  # commented: opt-in
