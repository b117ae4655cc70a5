"""Reading numbers and letters the way people say them (qa_service/text/spoken_numbers.py): digit by digit, in
groups, spelled letters, ASR noise, and offsets that map every character back to the words that said it."""

from __future__ import annotations

import pytest

from qa_service.text.spoken_numbers import iter_windows, may_hold_numbers, normalise, read_sequences


@pytest.mark.parametrize("language,text,expected", [
    ("es", "cuatro cinco dos uno", "4521"),
    ("es", "cincuenta y tres, cuatrocientos diez, seiscientos veintiocho, letra eme", "53410628M"),
    ("es", "veintiocho millones cuatrocientos sesenta y un mil novecientos treinta y siete", "28461937"),
    ("es", "dos mil veinticuatro", "2024"),
    ("es", "cero ocho noventa y cinco", "0895"),
    ("es", "dos mil cinco", "2005"),
    ("en", "five five five, twelve, three four five six", "555123456"),
    ("en", "double four oh nine", "4409"),
    ("en", "triple seven two one", "77721"),
    ("en", "forty-five thirty-nine", "4539"),
    ("en", "five hundred and twelve", "512"),
    ("en", "nineteen hundred and five", "1905"),
    ("es", "cuatro cinco dos uno eme de Madrid", "4521M"),
    ("es", "letra jota cero siete uno", "J071"),
    ("es", "i griega dos cero uno uve doble", "Y201W"),
    ("en", "M as in Mike two two one", "M221"),
    ("en", "j t four eight two", "JT482"),
    ("es", "17.936.482-4", "179364824"),
    ("es", "X9120475D", "X9120475D"),
])
def test_spoken_and_typed_sequences(language, text, expected):
    assert normalise(text, language) == expected


def test_asr_noise_fillers_between_groups_and_no_punctuation():
    assert normalise("eh cuatro cinco tres nueve este uno cuatro ocho ocho mm cero tres", "es") == "4539148803"
    assert normalise("uh four five three nine um one four eight eight", "en") == "45391488"
    # too many fillers in a row end the sequence
    assert normalise("cuatro cinco eh este mm dos uno", "es") == "45 21"


def test_other_words_end_a_sequence():
    assert normalise("cuatro cinco cuatro ocho y el de atrás cero cinco dos", "es") == "4548 052"
    assert normalise("5402 5314, 09/28", "es") == "5402531409 28"  # a comma is a pause, a slash ends it


def test_ordinary_words_are_not_numbers_or_letters_alone():
    """"una", "a", "de", "o" are weak: kept as pieces, never a sequence without a real number."""
    seqs = read_sequences("Tengo una tarjeta de crédito a nombre de Ana", "es")
    assert all(all(p.weak for p in s.pieces) for s in seqs)
    assert normalise("Once upon a time", "en") == ""  # English "once" is not eleven


def test_every_piece_maps_back_to_the_words_that_said_it():
    text = "su DNI: cincuenta y tres, cuatrocientos diez, seiscientos veintiocho, letra eme de Madrid."
    (seq,) = read_sequences(text, "es")
    assert [(p.chars, text[p.start:p.end]) for p in seq.pieces] == [
        ("53", "cincuenta y tres"), ("410", "cuatrocientos diez"), ("628", "seiscientos veintiocho"),
        ("M", "eme de Madrid")]
    assert [p.spoken for p in seq.pieces] == [True] * 4


def test_grouping_is_kept():
    (seq,) = read_sequences("five two one, four eight, three zero nine seven", "en")
    sizes: dict[int, int] = {}
    for p in seq.pieces:
        sizes[p.chunk] = sizes.get(p.chunk, 0) + len(p.chars)
    assert list(sizes.values()) == [3, 2, 4]


def test_windows_never_cut_a_typed_word_or_a_digit_run():
    (seq,) = read_sequences("RFC GODE561231GR8", "es")
    assert list(iter_windows(seq)) == [(0, len(seq.pieces))]
    seq = read_sequences("5402 5314 2796 9099, 09/28", "es")[0]
    assert seq.value == "540253142796909909"
    cuts = {j for _, j in iter_windows(seq, at_pauses=True)}
    assert 16 in cuts and 16 not in {j for _, j in iter_windows(seq)}  # the card alone, at the comma only


def test_cheap_precheck():
    assert may_hold_numbers("me da su DNI, cuarenta y cinco, treinta...") and may_hold_numbers("ref 123")
    # fewer than three digits and number words in all cannot make an identifier or a code
    assert not may_hold_numbers("Buenos días, le atiende Laura.") and not may_hold_numbers("uno o dos, vale")
    assert normalise("mil cinco", "es") == ""
