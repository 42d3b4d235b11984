"""Stems must equal the Snowball reference.

The bot stems with PyStemmer (C); the pure-Python `snowballstemmer` (a test dependency) is the
reference, so stored terms keep meeting query terms whichever implementation made them.
"""

from __future__ import annotations

from snowballstemmer.english_stemmer import EnglishStemmer

from bot.articles import terms

# Our own sample prose: inflections, apostrophes, accents, hyphen-free compounds, odd casing.
SAMPLE = """
Striking nurses marched past the hospitals, chanting slogans; strikers' families joined them.
The council's housing committee postponed its decisions again, while evictions multiplied.
Generational inequality, unionisation and nationalisation dominated the conference's debates.
Organisers said the café owners' cooperative had been reorganising deliveries since January.
Naïve promises about privatisation were ridiculed by campaigners and economists alike.
Flooding, flooded, floods: the towns' defences were overwhelmed repeatedly this winter.
Dockworkers didn't accept the management's offer; they're balloting on continuing walkouts.
"""


def test_the_stems_in_use_equal_the_pure_python_snowball_ones() -> None:
    reference = EnglishStemmer()
    sample_words = sorted(set(terms.words(SAMPLE)))
    assert len(sample_words) > 50
    for word in sample_words:
        assert terms.stem(word) == reference.stemWord(word), word


def test_stems_join_inflections() -> None:
    assert terms.stem("striking") == terms.stem("strikes") == "strike"
    assert terms.stem("flooded") == terms.stem("flooding") == terms.stem("floods")
