"""Bytes from outside to text: one decision, in the WHATWG order, for pages and feeds alike.

The order is the WHATWG one (https://html.spec.whatwg.org/multipage/parsing.html#encoding-sniffing-algorithm):
a byte-order mark, then the HTTP `Content-Type` charset, then the document's own declaration
(`<meta>` for pages, the XML declaration for feeds), then a bounded sniff. Only labels of the
WHATWG Encoding Standard are honoured; anything else is ignored, so a page cannot choose a
codec such as `punycode` (quadratic, and it raises on non-ASCII bytes). Every codec used here is
implemented in C and decodes with replacement in linear time.

Pure: no I/O. Every scan is bounded or linear.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

PRESCAN_BYTES: Final = 1024
"""How far the document's own declaration is looked for (the WHATWG prescan's limit)."""
SNIFF_BYTES: Final = 16 * 1024
"""How much of an undeclared, non-UTF-8 document the statistical sniff reads."""

# The labels of the WHATWG Encoding Standard (https://encoding.spec.whatwg.org/#names-and-labels),
# each mapped to the encoding's name and the Python codec that decodes it. GBK uses the gb18030
# decoder, Big5 includes HKSCS, Shift_JIS is windows-31j and EUC-KR is windows-949, as in the spec.
# "replacement" and "x-user-defined" have their own decoders below.
_ENCODINGS: Final[dict[tuple[str, str], tuple[str, ...]]] = {
    ("UTF-8", "utf-8"): (
        "unicode-1-1-utf-8", "unicode11utf8", "unicode20utf8", "utf-8", "utf8", "x-unicode20utf8",
    ),
    ("IBM866", "cp866"): ("866", "cp866", "csibm866", "ibm866"),
    ("ISO-8859-2", "iso8859_2"): (
        "csisolatin2", "iso-8859-2", "iso-ir-101", "iso8859-2", "iso88592", "iso_8859-2",
        "iso_8859-2:1987", "l2", "latin2",
    ),
    ("ISO-8859-3", "iso8859_3"): (
        "csisolatin3", "iso-8859-3", "iso-ir-109", "iso8859-3", "iso88593", "iso_8859-3",
        "iso_8859-3:1988", "l3", "latin3",
    ),
    ("ISO-8859-4", "iso8859_4"): (
        "csisolatin4", "iso-8859-4", "iso-ir-110", "iso8859-4", "iso88594", "iso_8859-4",
        "iso_8859-4:1988", "l4", "latin4",
    ),
    ("ISO-8859-5", "iso8859_5"): (
        "csisolatincyrillic", "cyrillic", "iso-8859-5", "iso-ir-144", "iso8859-5", "iso88595",
        "iso_8859-5", "iso_8859-5:1988",
    ),
    ("ISO-8859-6", "iso8859_6"): (
        "arabic", "asmo-708", "csiso88596e", "csiso88596i", "csisolatinarabic", "ecma-114",
        "iso-8859-6", "iso-8859-6-e", "iso-8859-6-i", "iso-ir-127", "iso8859-6", "iso88596",
        "iso_8859-6", "iso_8859-6:1987",
    ),
    ("ISO-8859-7", "iso8859_7"): (
        "csisolatingreek", "ecma-118", "elot_928", "greek", "greek8", "iso-8859-7", "iso-ir-126",
        "iso8859-7", "iso88597", "iso_8859-7", "iso_8859-7:1987", "sun_eu_greek",
    ),
    ("ISO-8859-8", "iso8859_8"): (
        "csiso88598e", "csisolatinhebrew", "hebrew", "iso-8859-8", "iso-8859-8-e", "iso-ir-138",
        "iso8859-8", "iso88598", "iso_8859-8", "iso_8859-8:1988", "visual",
    ),
    ("ISO-8859-8-I", "iso8859_8"): ("csiso88598i", "iso-8859-8-i", "logical"),
    ("ISO-8859-10", "iso8859_10"): (
        "csisolatin6", "iso-8859-10", "iso-ir-157", "iso8859-10", "iso885910", "l6", "latin6",
    ),
    ("ISO-8859-13", "iso8859_13"): ("iso-8859-13", "iso8859-13", "iso885913"),
    ("ISO-8859-14", "iso8859_14"): ("iso-8859-14", "iso8859-14", "iso885914"),
    ("ISO-8859-15", "iso8859_15"): (
        "csisolatin9", "iso-8859-15", "iso8859-15", "iso885915", "iso_8859-15", "l9",
    ),
    ("ISO-8859-16", "iso8859_16"): ("iso-8859-16",),
    ("KOI8-R", "koi8_r"): ("cskoi8r", "koi", "koi8", "koi8-r", "koi8_r"),
    ("KOI8-U", "koi8_u"): ("koi8-ru", "koi8-u"),
    ("macintosh", "mac_roman"): ("csmacintosh", "mac", "macintosh", "x-mac-roman"),
    ("windows-874", "cp874"): (
        "dos-874", "iso-8859-11", "iso8859-11", "iso885911", "tis-620", "windows-874",
    ),
    ("windows-1250", "cp1250"): ("cp1250", "windows-1250", "x-cp1250"),
    ("windows-1251", "cp1251"): ("cp1251", "windows-1251", "x-cp1251"),
    ("windows-1252", "cp1252"): (
        "ansi_x3.4-1968", "ascii", "cp1252", "cp819", "csisolatin1", "ibm819", "iso-8859-1",
        "iso-ir-100", "iso8859-1", "iso88591", "iso_8859-1", "iso_8859-1:1987", "l1", "latin1",
        "us-ascii", "windows-1252", "x-cp1252",
    ),
    ("windows-1253", "cp1253"): ("cp1253", "windows-1253", "x-cp1253"),
    ("windows-1254", "cp1254"): (
        "cp1254", "csisolatin5", "iso-8859-9", "iso-ir-148", "iso8859-9", "iso88599",
        "iso_8859-9", "iso_8859-9:1989", "l5", "latin5", "windows-1254", "x-cp1254",
    ),
    ("windows-1255", "cp1255"): ("cp1255", "windows-1255", "x-cp1255"),
    ("windows-1256", "cp1256"): ("cp1256", "windows-1256", "x-cp1256"),
    ("windows-1257", "cp1257"): ("cp1257", "windows-1257", "x-cp1257"),
    ("windows-1258", "cp1258"): ("cp1258", "windows-1258", "x-cp1258"),
    ("x-mac-cyrillic", "mac_cyrillic"): ("x-mac-cyrillic", "x-mac-ukrainian"),
    ("GBK", "gb18030"): (
        "chinese", "csgb2312", "csiso58gb231280", "gb2312", "gb_2312", "gb_2312-80", "gbk",
        "iso-ir-58", "x-gbk",
    ),
    ("gb18030", "gb18030"): ("gb18030",),
    ("Big5", "big5hkscs"): ("big5", "big5-hkscs", "cn-big5", "csbig5", "x-x-big5"),
    ("EUC-JP", "euc_jp"): ("cseucpkdfmtjapanese", "euc-jp", "x-euc-jp"),
    ("ISO-2022-JP", "iso2022_jp"): ("csiso2022jp", "iso-2022-jp"),
    ("Shift_JIS", "cp932"): (
        "csshiftjis", "ms932", "ms_kanji", "shift-jis", "shift_jis", "sjis", "windows-31j",
        "x-sjis",
    ),
    ("EUC-KR", "cp949"): (
        "cseuckr", "csksc56011987", "euc-kr", "iso-ir-149", "korean", "ks_c_5601-1987",
        "ks_c_5601-1989", "ksc5601", "ksc_5601", "windows-949",
    ),
    ("replacement", "replacement"): (
        "csiso2022kr", "hz-gb-2312", "iso-2022-cn", "iso-2022-cn-ext", "iso-2022-kr",
        "replacement",
    ),
    ("UTF-16BE", "utf-16-be"): ("unicodefffe", "utf-16be"),
    ("UTF-16LE", "utf-16-le"): (
        "csunicode", "iso-10646-ucs-2", "ucs-2", "unicode", "unicodefeff", "utf-16", "utf-16le",
    ),
    ("x-user-defined", "x-user-defined"): ("x-user-defined",),
}  # fmt: skip

_BY_LABEL: Final[dict[str, str]] = {
    label: name for (name, _), labels in _ENCODINGS.items() for label in labels
}
_CODEC: Final[dict[str, str]] = {name: codec for (name, codec) in _ENCODINGS}
# The Python codecs behind the table, by their canonical name, for the sniffer's answers.
_NAME_BY_CODEC: Final[dict[str, str]] = {}
for (_name, _codec), _ in _ENCODINGS.items():
    if _codec not in ("replacement", "x-user-defined"):
        _NAME_BY_CODEC.setdefault(codecs.lookup(_codec).name, _name)

_ASCII_WHITESPACE = b"\t\n\x0c\r "
# x-user-defined maps bytes 0x80-0xFF to U+F780-U+F7FF (Encoding Standard, section 14.5).
_X_USER_DEFINED = {byte: 0xF780 + byte - 0x80 for byte in range(0x80, 0x100)}
_Prescan = Callable[[bytes], "tuple[str, str] | None"]
_BOMS: Final = (
    (codecs.BOM_UTF8, "UTF-8"),
    (codecs.BOM_UTF16_BE, "UTF-16BE"),
    (codecs.BOM_UTF16_LE, "UTF-16LE"),
)


@dataclass(frozen=True)
class Decoded:
    """A document's text and how its encoding was decided."""

    text: str
    encoding: str
    """The WHATWG name of the encoding used, e.g. "windows-1252"."""
    source: str
    """What decided it: "bom", "http", "meta", "xml", "utf-8" (valid), "sniff" or "default"."""


def encoding_for_label(label: str | bytes | None) -> str | None:
    """The WHATWG encoding name for a label ("latin1" -> "windows-1252"), or None if unknown."""
    if label is None:
        return None
    if isinstance(label, bytes):
        label = label.decode("latin-1")
    return _BY_LABEL.get(label.strip("\t\n\x0c\r ").lower())


def charset_of_content_type(content_type: str | None) -> str | None:
    """The WHATWG encoding named by a Content-Type header's charset parameter, if known."""
    if not content_type:
        return None
    for parameter in content_type[:1024].split(";")[1:]:
        key, _, value = parameter.partition("=")
        if key.strip().lower() == "charset":
            return encoding_for_label(value.strip().strip("\"'"))
    return None


def decode_page(body: bytes, content_type: str | None = None) -> Decoded:
    """An HTML page's text: BOM, HTTP charset, `<meta>` prescan, then a bounded sniff."""
    return _decode(body, content_type, _meta_charset)


def decode_xml(body: bytes, content_type: str | None = None) -> Decoded:
    """An XML document's text: BOM, HTTP charset, the XML declaration, then a bounded sniff.

    UTF-16 without a BOM is recognised from `<?` as the XML specification's appendix F says.
    """
    return _decode(body, content_type, _xml_charset)


def _decode(body: bytes, content_type: str | None, declared: _Prescan) -> Decoded:
    for bom, name in _BOMS:
        if body.startswith(bom):
            return Decoded(_decode_as(body[len(bom) :], name), name, "bom")
    from_header = charset_of_content_type(content_type)
    if from_header is not None:
        return Decoded(_decode_as(body, from_header), from_header, "http")
    found = declared(body[:PRESCAN_BYTES])
    if found is not None:
        name, source = found
        return Decoded(_decode_as(body, name), name, source)
    try:
        return Decoded(body.decode("utf-8"), "UTF-8", "utf-8")
    except UnicodeDecodeError:
        pass
    sniffed = _sniff(body[:SNIFF_BYTES])
    if sniffed is not None:
        return Decoded(_decode_as(body, sniffed), sniffed, "sniff")
    return Decoded(body.decode("utf-8", "replace"), "UTF-8", "default")


def _decode_as(body: bytes, name: str) -> str:
    if name == "replacement":
        # ISO-2022-KR and friends allow script injection; the spec decodes them to one U+FFFD.
        return "\ufffd" if body else ""
    if name == "x-user-defined":
        return body.decode("latin-1").translate(_X_USER_DEFINED)
    return body.decode(_CODEC[name], "replace")


def _sniff(prefix: bytes) -> str | None:
    """charset-normalizer's guess for a prefix, if it is an encoding of the WHATWG list.

    Its first choice often confuses the Latin code pages that decode most letters alike; when
    windows-1252, the web's most common legacy encoding, is among its plausible answers, it wins.
    """
    from charset_normalizer import from_bytes

    guesses: list[str] = []
    for match in from_bytes(prefix, steps=10, chunk_size=1024):
        try:
            name = _NAME_BY_CODEC.get(codecs.lookup(match.encoding).name)
        except LookupError:
            continue
        if name is not None:
            guesses.append(name)
    if "windows-1252" in guesses:
        return "windows-1252"
    return guesses[0] if guesses else None


def _declared_in_meta(name: str) -> str:
    # A <meta> read as ASCII cannot truly be UTF-16 (WHATWG prescan, step "If charset is ...").
    if name in ("UTF-16BE", "UTF-16LE"):
        return "UTF-8"
    if name == "x-user-defined":
        return "windows-1252"
    return name


def _xml_charset(head: bytes) -> tuple[str, str] | None:
    """The encoding of a BOM-less XML document from its first bytes and its XML declaration."""
    if head.startswith(b"<\x00?\x00"):
        return "UTF-16LE", "xml"
    if head.startswith(b"\x00<\x00?"):
        return "UTF-16BE", "xml"
    if not head.startswith(b"<?xml") or head[5:6] not in (b" ", b"\t", b"\r", b"\n"):
        return None
    end = head.find(b"?>")
    declaration = head[: end if end >= 0 else len(head)]
    at = declaration.find(b"encoding")
    if at < 0:
        return None
    rest = declaration[at + len(b"encoding") :].lstrip(_ASCII_WHITESPACE)
    if not rest.startswith(b"="):
        return None
    rest = rest[1:].lstrip(_ASCII_WHITESPACE)
    if rest[:1] not in (b'"', b"'"):
        return None
    close = rest.find(rest[:1], 1)
    if close < 0:
        return None
    name = encoding_for_label(rest[1:close])
    return (_declared_in_meta(name), "xml") if name else None


def _meta_charset(head: bytes) -> tuple[str, str] | None:
    """The WHATWG prescan for a `<meta>` charset (encoding sniffing algorithm, "prescan")."""
    scan = _Scanner(head)
    data, end = head, len(head)
    while scan.pos < end:
        pos = scan.pos
        if data.startswith(b"<!--", pos):
            close = data.find(b"-->", pos + 2)
            if close < 0:
                return None
            scan.pos = close + 3
            continue
        if data[pos : pos + 5].lower() == b"<meta" and data[pos + 5 : pos + 6] in (
            *(bytes([b]) for b in _ASCII_WHITESPACE),
            b"/",
        ):
            scan.pos = pos + 6
            found = _meta_element(scan)
            if found is not None:
                return _declared_in_meta(found), "meta"
            continue
        if data[pos : pos + 1] == b"<" and (
            data[pos + 1 : pos + 2].isalpha()
            or (data[pos + 1 : pos + 2] == b"/" and data[pos + 2 : pos + 3].isalpha())
        ):
            # Any other tag: skip its name, then its attributes one by one.
            scan.pos = pos + 2
            while scan.pos < end and data[scan.pos] not in _ASCII_WHITESPACE + b">":
                scan.pos += 1
            while scan.attribute() is not None:
                pass
            scan.pos += 1
            continue
        if data.startswith((b"<!", b"</", b"<?"), pos):
            close = data.find(b">", pos + 2)
            if close < 0:
                return None
            scan.pos = close + 1
            continue
        scan.pos = pos + 1
    return None


def _meta_element(scan: _Scanner) -> str | None:
    """The charset one `<meta>` declares, read attribute by attribute (each name once)."""
    seen: set[bytes] = set()
    got_pragma = False
    need_pragma: bool | None = None
    charset: str | None = None
    while (attribute := scan.attribute()) is not None:
        name, value = attribute
        if name in seen:
            continue
        seen.add(name)
        if name == b"http-equiv" and value.lower() == b"content-type":
            got_pragma = True
        elif name == b"content" and charset is None:
            label = _charset_in_content(value)
            if label is not None:
                charset = encoding_for_label(label)
                need_pragma = True
        elif name == b"charset":
            charset = encoding_for_label(value)
            need_pragma = False
    scan.pos += 1
    if need_pragma is None or charset is None or (need_pragma and not got_pragma):
        return None
    return charset


def _charset_in_content(value: bytes) -> bytes | None:
    """The charset in a `content="text/html; charset=..."` value (WHATWG's algorithm)."""
    lowered = value.lower()
    position = 0
    while True:
        at = lowered.find(b"charset", position)
        if at < 0:
            return None
        position = at + len(b"charset")
        rest = value[position:].lstrip(_ASCII_WHITESPACE)
        if rest.startswith(b"="):
            break
    rest = rest[1:].lstrip(_ASCII_WHITESPACE)
    if rest[:1] in (b'"', b"'"):
        close = rest.find(rest[:1], 1)
        return rest[1:close] if close >= 0 else None
    stop = len(rest)
    for index, byte in enumerate(rest):
        if byte in _ASCII_WHITESPACE or byte == ord(";"):
            stop = index
            break
    return rest[:stop] or None


class _Scanner:
    """A position in the prescanned bytes and the spec's "get an attribute" step."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def attribute(self) -> tuple[bytes, bytes] | None:
        """The next attribute's lowercased name and raw value, or None at '>' or the end."""
        data, end = self.data, len(self.data)
        while self.pos < end and (data[self.pos] in _ASCII_WHITESPACE or data[self.pos] == 0x2F):
            self.pos += 1
        if self.pos >= end or data[self.pos] == 0x3E:  # '>'
            return None
        name = bytearray()
        while self.pos < end:
            byte = data[self.pos]
            if byte == 0x3D and name:  # '=' after a name: the value follows
                self.pos += 1
                return bytes(name).lower(), self._value()
            if byte in _ASCII_WHITESPACE:
                while self.pos < end and data[self.pos] in _ASCII_WHITESPACE:
                    self.pos += 1
                if self.pos < end and data[self.pos] == 0x3D:
                    self.pos += 1
                    return bytes(name).lower(), self._value()
                return bytes(name).lower(), b""
            if byte in (0x2F, 0x3E):  # '/' or '>' ends a valueless attribute
                return bytes(name).lower(), b""
            name.append(byte)
            self.pos += 1
        return None

    def _value(self) -> bytes:
        data, end = self.data, len(self.data)
        while self.pos < end and data[self.pos] in _ASCII_WHITESPACE:
            self.pos += 1
        if self.pos >= end:
            return b""
        quote = data[self.pos]
        if quote in (0x22, 0x27):
            close = data.find(bytes([quote]), self.pos + 1)
            if close < 0:
                self.pos = end
                return b""
            value = data[self.pos + 1 : close]
            self.pos = close + 1
            return value
        start = self.pos
        while self.pos < end and data[self.pos] not in _ASCII_WHITESPACE and data[self.pos] != 0x3E:
            self.pos += 1
        return data[start : self.pos]
