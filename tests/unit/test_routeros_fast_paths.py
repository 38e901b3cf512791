"""The RouterOS parser's fast paths (issue #17) give exactly what the character loops they
skip give: words, columns, decoded text and errors, for the driver and the lab alike."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from controller.devices import mikrotik_routeros as ros

# Every character the tokeniser treats specially, plus plain ones and non-ASCII.
LINE = st.text(alphabet=' \t"\\[]=$?ab\u00e9\n', max_size=24)


def _outcome(call, *args, **kwargs):  # type: ignore[no-untyped-def]
    try:
        return ("ok", call(*args, **kwargs))
    except ros.WordError as exc:
        return ("error", exc.what, exc.column)


@settings(max_examples=1000, deadline=None)
@given(LINE)
def test_split_words_fast_path_equals_the_character_loop(line: str) -> None:
    assert _outcome(ros.split_words, line) == _outcome(ros._split_words_slowly, line)


@settings(max_examples=1000, deadline=None)
@given(st.text(alphabet='"\\$?abn_\u00e9 ', max_size=12), st.booleans())
def test_unquote_fast_path_equals_the_decoder(body: str, strict: bool) -> None:
    assert (_outcome(ros.unquote, f'"{body}"', strict=strict)
            == _outcome(ros._decode, body, strict))


def test_fast_paths_keep_their_errors() -> None:
    """Known answers, written by hand from the scripting manual's quoting rules."""
    assert ros.split_words('set comment="a b" name=x') == [
        ("set", 1), ('comment="a b"', 5), ("name=x", 19)]
    assert _outcome(ros.split_words, 'set comment="a b') == ("error", "unterminated quote", 5)
    assert ros.unquote('"plain text"', strict=True) == "plain text"
    assert _outcome(ros.unquote, '"cost $5"', strict=True) == ("error", "bare $", 7)
    assert _outcome(ros.unquote, '"why?"', strict=True) == ("error", "bare ?", 5)
    assert ros.unquote('"cost $5"') == "cost $5"


# Two intents of the same length that differ only in their last value, and a running config.
INTENT_A = ("/ip dns\nset servers=10.0.0.1\n"
            "/ip pool\nadd comment=simpul name=p ranges=10.1.0.2-10.1.0.9\n")
INTENT_B = INTENT_A.replace("10.1.0.9", "10.1.0.8")
RUNNING = INTENT_A + "# RouterOS 7.14.3\n"


def test_a_plan_reads_the_intent_it_is_given_not_a_cached_one() -> None:
    """The parsed-intent cache is keyed by the whole text: a changed intent (even of the same
    length, at its end) is planned anew, before and after the same intent was planned."""
    platform = ros.MikrotikRouterOS()
    assert platform.plan(INTENT_A, RUNNING).empty
    changed = platform.plan(INTENT_B, RUNNING)
    assert changed.actions == [
        "/ip pool set [ find name=p ] ranges=10.1.0.2-10.1.0.8"]
    assert "+add comment=simpul name=p ranges=10.1.0.2-10.1.0.8" in changed.diff
    assert platform.plan(INTENT_A, RUNNING).empty
    # The verify after a push that did not take: still caught with the intent cached.
    assert not platform.plan(INTENT_B, RUNNING).empty


def test_the_model_is_built_per_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """load() answers without its lock once built, still one model per file: another file's
    model is not the default one."""
    from controller.devices import routeros_model

    default = routeros_model.load()
    assert routeros_model.load() is default
    source = routeros_model.API_DATA.read_text(encoding="utf-8")
    extra = ("PATHS = {('simpul', 'probe'): APIData(unversioned=VersionedAPIData("
             "single_value=True, fields={'x': KeyInfo(default='1')})), ")
    other = tmp_path / "_api_data.py"
    other.write_text(source.replace("PATHS = {", extra, 1), encoding="utf-8")
    model = routeros_model.load(str(other))
    assert model.menu("/simpul probe") is not None
    assert default.menu("/simpul probe") is None
    assert routeros_model.load(str(other)) is model
