"""What simulated visitors are made of: names, shop hours, searches, payment methods and
sales channels, each channel and method with its weight."""

from __future__ import annotations

import random
from typing import Any

FIRST = (
    "Ana",
    "Lucía",
    "Marta",
    "Carmen",
    "Elena",
    "Laura",
    "Sara",
    "Paula",
    "Irene",
    "Julia",
    "Pablo",
    "Javier",
    "Daniel",
    "Hugo",
    "Mario",
    "Diego",
    "Álvaro",
    "Adrián",
    "Sergio",
    "Iván",
    "Emma",
    "Olivia",
    "Noah",
    "Liam",
    "Chloé",
    "Lena",
    "Sofia",
    "Matteo",
    "Yuki",
    "Amara",
)
LAST = (
    "García", "Martínez", "López", "Sánchez", "Pérez", "Gómez", "Fernández", "Ruiz", "Díaz",
    "Moreno", "Muñoz", "Romero", "Navarro", "Torres", "Smith", "Dubois", "Rossi", "Schmidt",
    "Tanaka", "Okafor",
)  # fmt: skip
SHOP_HOURS = (9, 10, 11, 12, 13, 16, 16, 17, 17, 18, 18, 19, 19, 20, 20, 21, 21, 22)
SEARCHES = ("mug", "lamp", "wireless", "keyboard", "t-shirt", "bag", "gift", "coffee", "desk")
PAYMENTS = (("Credit card", 6), ("PayPal", 3), ("Bank transfer", 1), ("Apple Pay", 2))
WEB_SOURCES = (("digital-store", "Web shop", 7), ("digital-store", "Mobile app", 3))
OFFLINE_SOURCES = (
    ("marketplace", "Amazon", 4),
    ("marketplace", "Zalando", 2),
    ("point-of-sale", "Madrid store", 3),
    ("point-of-sale", "Valencia store", 2),
)


def weighted(rnd: random.Random, items: tuple[tuple[Any, ...], ...]) -> tuple[Any, ...]:
    total = sum(i[-1] for i in items)
    x = rnd.uniform(0, total)
    for item in items:
        x -= item[-1]
        if x <= 0:
            return item
    return items[-1]
