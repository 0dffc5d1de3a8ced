"""Sample clients for tests: names with diacritics and Cyrillic, valid Croatian phone numbers."""

from datetime import date

from alko_desk.models.clients import Address, ClientDraft, ContactChannel, IdDocumentType


def draft(
    first="Željko",
    last="Kovačević",
    *,
    email="zeljko.kovacevic@example.hr",
    phone="091 234 5678",
    id_number="112233445",
    licence="HR778899",
    birth=date(1984, 3, 9),
    city="Split",
    **extra,
) -> ClientDraft:
    return ClientDraft(
        first_name=first,
        last_name=last,
        birth_date=birth,
        id_type=IdDocumentType.NATIONAL_ID,
        id_number=id_number,
        licence_number=licence,
        email=email,
        phone=phone,
        address=Address("Ulica Domovinskog rata 12", "21000", city, "Hrvatska"),
        preferred_channel=ContactChannel.EMAIL,
        marketing_consent=extra.pop("marketing_consent", False),
        notes=extra.pop("notes", "Interested in a family estate car."),
        **extra,
    )


IVAN = {
    "first": "Иван",
    "last": "Петров",
    "email": "ivan.petrov@example.ru",
    "phone": "+7 912 345-67-89",
    "id_number": "4509123456",
    "licence": "77AB123456",
    "birth": date(1979, 11, 2),
    "city": "Beograd",
}
