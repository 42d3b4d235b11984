"""Decoding bytes from outside: the WHATWG order, WHATWG labels only, for pages and feeds."""

from __future__ import annotations

import codecs

import pytest

from bot.textcodec import (
    PRESCAN_BYTES,
    decode_page,
    decode_xml,
    encoding_for_label,
)

CAFE_1252 = "<p>Caf\u00e9 \u201cquoted\u201d \u2014 na\u00efve</p>".encode("cp1252")


def test_a_byte_order_mark_beats_the_header_and_the_meta() -> None:
    body = codecs.BOM_UTF8 + '<meta charset="koi8-r"><p>Café'.encode()
    decoded = decode_page(body, "text/html; charset=windows-1252")
    assert (decoded.text, decoded.source) == ('<meta charset="koi8-r"><p>Café', "bom")


def test_the_http_charset_beats_the_meta() -> None:
    body = b'<meta charset="utf-8">' + CAFE_1252
    decoded = decode_page(body, 'text/html; charset="Windows-1252"')
    assert "Café “quoted” — naïve" in decoded.text and decoded.source == "http"


@pytest.mark.parametrize(
    "meta",
    [
        b'<meta charset="windows-1252">',
        b"<META CHARSET=latin1>",
        b'<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1">',
        b"<meta content='text/html; charset = \"cp1252\"' http-equiv=content-type />",
    ],
)
def test_the_meta_prescan_finds_the_declared_charset(meta: bytes) -> None:
    decoded = decode_page(b"<html><head><title>x</title>" + meta + b"</head>" + CAFE_1252)
    assert (decoded.encoding, decoded.source) == ("windows-1252", "meta")
    assert "Café “quoted”" in decoded.text


@pytest.mark.parametrize(
    "head",
    [
        b'<!-- <meta charset="windows-1252"> -->',  # inside a comment
        b'<meta content="text/html; charset=windows-1252">',  # content without http-equiv
        b'<p title="<meta charset=windows-1252>">',  # inside an attribute value
        b" " * PRESCAN_BYTES + b'<meta charset="windows-1252">',  # beyond the prescan
    ],
)
def test_the_meta_prescan_ignores_what_the_spec_ignores(head: bytes) -> None:
    decoded = decode_page(head + "<p>Café</p>".encode())
    assert (decoded.encoding, decoded.source) == ("UTF-8", "utf-8")


@pytest.mark.parametrize("label", ["punycode", "utf-7", "rot13", "base64", "idna", "hex", "x"])
def test_labels_outside_the_whatwg_list_are_ignored(label: str) -> None:
    # punycode raised UnicodeDecodeError on non-ASCII bytes and is quadratic on ASCII ones.
    body = f'<meta charset="{label}"><p>Caf\u00e9-\u00e9t\u00e9'.encode()
    assert encoding_for_label(label) is None
    for content_type in (None, f"text/html; charset={label}"):
        decoded = decode_page(body, content_type)
        assert decoded.encoding == "UTF-8" and decoded.text.endswith("Café-été")


def test_an_unknown_label_on_a_legacy_page_falls_back_to_the_sniff() -> None:
    body = b"<meta charset=punycode>" + CAFE_1252 * 20
    decoded = decode_page(body, "text/html; charset=punycode")
    assert decoded.source == "sniff" and "Café “quoted”" in decoded.text


def test_every_label_decodes_with_a_codec_python_has() -> None:
    from bot.textcodec import _BY_LABEL

    assert len(_BY_LABEL) > 200
    for label in _BY_LABEL:
        decode_page(b"<p>x\x80\xff\xfe</p>", f"text/html; charset={label}")


def test_a_meta_cannot_claim_utf16_or_x_user_defined() -> None:
    # The prescan reads ASCII, so a UTF-16 claim in it is false (WHATWG prescan rules).
    assert decode_page(b'<meta charset="utf-16"><p>x').encoding == "UTF-8"
    assert decode_page(b'<meta charset="x-user-defined"><p>x').encoding == "windows-1252"


def test_the_replacement_and_x_user_defined_encodings() -> None:
    assert decode_page(b"<p>\x1b$)C", "text/html; charset=iso-2022-kr").text == "\ufffd"
    assert decode_page(b"a\x80", "text/html; charset=x-user-defined").text == "a\uf780"


def test_an_undeclared_legacy_page_is_sniffed() -> None:
    decoded = decode_page(b"<html><body>" + CAFE_1252 * 50)
    assert decoded.source == "sniff" and "Café “quoted” — naïve" in decoded.text


def test_an_undeclared_cyrillic_page_is_sniffed() -> None:
    body = ("<p>Привет, как дела? Это тест. Москва столица России. " * 40).encode("cp1251")
    decoded = decode_page(body)
    assert decoded.encoding == "windows-1251" and "Москва" in decoded.text


def test_xml_declaration_then_utf16_without_bom() -> None:
    body = '<?xml version="1.0" encoding="ISO-8859-2"?><rss>ą</rss>'.encode("iso8859_2")
    assert decode_xml(body).text.endswith("<rss>ą</rss>")
    assert decode_xml(body, "application/rss+xml; charset=utf-8").encoding == "UTF-8"
    utf16 = '<?xml version="1.0"?><rss>ą</rss>'.encode("utf-16-le")
    assert decode_xml(utf16).text == '<?xml version="1.0"?><rss>ą</rss>'
    # A <meta> is not an XML declaration.
    assert decode_xml(b'<meta charset="koi8-r"><rss/>').encoding == "UTF-8"
