"""The position-keeping YAML loader: core-schema scalars, duplicate keys, positions."""

from orchestrator.engine.yaml_loader import parse_yaml


def test_core_schema_booleans_only_true_false():
    doc = "a: [no, on, NO, yes, off, Y, true, False, TRUE]\n"
    data = parse_yaml(doc, "x.yaml").data
    assert data["a"] == ["no", "on", "NO", "yes", "off", "Y", True, False, True]


def test_times_dates_and_numbers():
    doc = "t: 9:30\nd: 2024-12-25\ni: 42\no: 0o17\nx: 0x1F\nf: 1.5\nn: ~\ne:\ns: '42'\n"
    data = parse_yaml(doc, "x.yaml").data
    assert data == {
        "t": "9:30",
        "d": "2024-12-25",
        "i": 42,
        "o": 15,
        "x": 31,
        "f": 1.5,
        "n": None,
        "e": None,
        "s": "42",
    }


def test_every_node_has_a_position_scalars_included():
    doc = "flows:\n  main:\n    steps:\n      - say: hello\n      - goto: x\n"
    parsed = parse_yaml(doc, "f.yaml")
    nodes = parsed.source.nodes
    assert (
        nodes[("flows", "main", "steps", 0, "say")].line,
        nodes[("flows", "main", "steps", 0, "say")].col,
    ) == (4, 14)
    assert parsed.source.pos(("flows", "main", "steps", 1, "goto")) == (5, 15)
    assert parsed.source.pos(("flows", "main", "steps", 1, "goto"), key=True) == (5, 9)
    # unknown paths fall back to the closest ancestor
    assert parsed.source.pos(("flows", "main", "steps", 1, "nope")) == (5, 9)


def test_duplicate_keys_are_reported_with_both_lines():
    parsed = parse_yaml("a: 1\nb: 2\na: 3\n", "d.yaml")
    [diag] = parsed.diagnostics
    assert (diag.code, diag.line, diag.col) == ("E102", 3, 1)
    assert "duplicate key 'a'" in diag.message and "line 1" in diag.message
    assert parsed.data == {"a": 1, "b": 2}


def test_syntax_error_has_a_position():
    parsed = parse_yaml("a: [1, 2\nb: 3\n", "s.yaml")
    [diag] = parsed.diagnostics
    assert diag.code == "E101" and diag.line == 2
    assert parsed.data is None


def test_anchors_merge_keys_and_unknown_tags():
    doc = "base: &b {x: 1, y: 2}\nc:\n  <<: *b\n  y: 3\nt: !custom v\n"
    parsed = parse_yaml(doc, "m.yaml")
    assert parsed.data["c"] == {"x": 1, "y": 3}
    assert [d.code for d in parsed.diagnostics] == ["E103"]


def test_resolve_loc_skips_union_tags():
    doc = "steps:\n  - if: x\n    then:\n      - say: 3\n"
    source = parse_yaml(doc, "u.yaml").source
    loc = ("steps", 0, "if", "then", "list", 0, "say", "say")
    assert source.resolve_loc(loc) == ("steps", 0, "then", 0, "say")
