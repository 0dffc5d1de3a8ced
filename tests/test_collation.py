"""Names sort as people expect for their script (ICU collation)."""

from alko_desk.models.text import sort_key


def test_ukrainian_letters_sort_in_their_places_not_after_ya():
    names = ["Яковенко", "Єременко", "Іваненко", "Їжак", "Ґудзь", "Гаврилюк", "Дмитренко", "Ємець"]
    assert sorted(names, key=sort_key) == [
        "Гаврилюк",
        "Ґудзь",
        "Дмитренко",
        "Ємець",
        "Єременко",
        "Іваненко",
        "Їжак",
        "Яковенко",
    ]


def test_croatian_letters_follow_their_base_letter():
    names = ["Žic", "Zorić", "Čolić", "Cvitan", "Ćosić", "Dukić", "Đurić", "Šimić", "Sarić"]
    assert sorted(names, key=sort_key) == [
        "Cvitan",
        "Čolić",
        "Ćosić",
        "Dukić",
        "Đurić",
        "Sarić",
        "Šimić",
        "Zorić",
        "Žic",
    ]


def test_last_name_then_first_name_and_case_does_not_split_names():
    people = [("Babić", "Ana"), ("Adamić", "Iva"), ("adamić", "Ana"), ("Adam", "Zora")]
    ordered = sorted(people, key=lambda p: sort_key(*p))
    assert ordered == [("Adam", "Zora"), ("adamić", "Ana"), ("Adamić", "Iva"), ("Babić", "Ana")]


def test_keys_are_plain_text_that_any_index_compares_correctly():
    key = sort_key("Kovačević", "Željko")
    assert isinstance(key, str) and key.isascii()
    assert sort_key("Čolić") < sort_key("Ćosić") < sort_key("Dukić")
