"""Shared parsing in core: expiry, captions, API keys, and log redaction."""

from __future__ import annotations

import logging

import pytest
from pydantic import SecretStr

from core.captions import parse_caption
from core.errors import InvalidApiKey, InvalidExpiry
from core.expiry import parse_expiry, parse_optional_expiry
from core.keys import mask_api_key, normalize_api_key
from core.logging_setup import RedactingFilter, redact


@pytest.mark.parametrize(
    ("text", "iso", "seconds"),
    [
        ("10m", "PT10M", 600),
        ("5 min", "PT5M", 300),
        ("2h", "PT2H", 7200),
        ("1h30m", "PT1H30M", 5400),
        ("3d", "P3D", 3 * 86400),
        ("1w", "P1W", 7 * 86400),
        ("1mo", "P1M", 30 * 86400),
        ("6 months", "P6M", 180 * 86400),
        ("1y", "P1Y", 365 * 86400),
        ("PT5M", "PT5M", 300),
        ("p3d", "P3D", 3 * 86400),
        ("P1DT12H", "P1DT12H", 36 * 3600),
        ("  2H ", "PT2H", 7200),
    ],
)
def test_expiry_accepts_human_and_iso(text: str, iso: str, seconds: int) -> None:
    expiry = parse_expiry(text)
    assert (expiry.iso, expiry.seconds) == (iso, seconds)


@pytest.mark.parametrize(
    "text", ["soon", "10", "m10", "-5m", "1.5h", "P", "PT", "P1H", "10 parsecs"]
)
def test_expiry_refuses_nonsense_with_a_hint(text: str) -> None:
    with pytest.raises(InvalidExpiry, match=r"is not a duration: use e\.g\. 10m"):
        parse_expiry(text)


@pytest.mark.parametrize("text", ["1m", "PT4M", "299s", "2y", "13mo", "P400D"])
def test_expiry_out_of_the_hosts_range_is_refused_not_clamped(text: str) -> None:
    # "299s" has no unit we accept, so it is nonsense rather than too short.
    with pytest.raises(InvalidExpiry):
        parse_expiry(text)


def test_expiry_out_of_range_says_the_range() -> None:
    with pytest.raises(InvalidExpiry, match="between 5 minutes and 1 year"):
        parse_expiry("2y")


@pytest.mark.parametrize("text", [None, "", "off", "Never", "none", "0"])
def test_optional_expiry_can_be_switched_off(text: str | None) -> None:
    assert parse_optional_expiry(text) is None


def test_caption_first_line_title_rest_description_hashtags_tags() -> None:
    caption = parse_caption("Sunset at the beach #travel #sea\nWe swam #summer\n#x #Travel")
    assert caption.title == "Sunset at the beach"
    assert caption.description == "We swam"
    assert caption.tags == ("travel", "sea", "summer", "x")


def test_caption_inline_hashtag_keeps_its_word() -> None:
    assert parse_caption("I love #cats a lot").title == "I love cats a lot"


@pytest.mark.parametrize("text", [None, "", "   \n  "])
def test_empty_caption_gives_nothing(text: str | None) -> None:
    caption = parse_caption(text)
    assert (caption.title, caption.description, caption.tags) == (None, None, ())


def test_caption_non_ascii_and_only_tags() -> None:
    assert parse_caption("Котики #котики #милота").tags == ("котики", "милота")
    only_tags = parse_caption("#a #b")
    assert (only_tags.title, only_tags.tags) == (None, ("a", "b"))


def test_caption_long_first_line_becomes_description_with_a_cut_title() -> None:
    line = "word " * 40
    caption = parse_caption(line)
    assert caption.title is not None and len(caption.title) == 100
    assert caption.title.endswith("…")
    assert caption.description == line.strip()


def test_api_key_outer_whitespace_is_dropped() -> None:
    key = normalize_api_key("  chv_12_abcdefghijklmnop \n")
    assert key.get_secret_value() == "chv_12_abcdefghijklmnop"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("chv_12 abcdefghijklmnop", "no spaces"),
        ("chv_12\nabcdefghijklmnop", "no spaces"),
        ("chv_12_абвгдежзийкл", "no spaces"),
        ("short", "does not look like an API key"),
    ],
)
def test_bad_api_keys_are_refused_clearly(text: str, reason: str) -> None:
    with pytest.raises(InvalidApiKey, match=reason) as caught:
        normalize_api_key(text)
    assert text.strip() not in str(caught.value) or not text.strip()


def test_masked_key_shows_only_its_ends() -> None:
    masked = mask_api_key(SecretStr("chv_12_abcdefghijklmnopwxyz"))
    assert masked == "chv_12…wxyz"
    assert "abcdefghijklmnop" not in masked


def test_redaction_masks_tokens_keys_and_delete_links() -> None:
    line = (
        "GET https://api.telegram.org/bot123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0/getMe "
        "key chv_12_abcdefghijkl http://h/image/AbC/delete/" + "a1" * 24 + " X-API-Key: secret9"
    )
    cleaned = redact(line)
    assert "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0" not in cleaned
    assert "abcdefghijkl" not in cleaned
    assert "a1" * 24 not in cleaned
    assert "secret9" not in cleaned
    assert "/delete/<secret>" in cleaned


def test_redacting_filter_cleans_messages_args_and_tracebacks() -> None:
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "key %s", ("chv_1_abcdef",), None)
    try:
        raise RuntimeError("failed at /image/Ab/delete/" + "f" * 48)
    except RuntimeError as exc:
        record.exc_info = (type(exc), exc, exc.__traceback__)

    RedactingFilter().filter(record)

    text = logging.Formatter().format(record)
    assert "chv_1_abcdef" not in text
    assert "f" * 48 not in text
    assert "RuntimeError" in text
