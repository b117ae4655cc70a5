"""Requests for a card security code, a PIN or a password (qa_service/text/credentials.py), Spanish and English:
varied wording counts, negations, resets, keypads and explanations do not."""

from __future__ import annotations

import pytest

from qa_service.text.credentials import find_credential_requests


@pytest.mark.parametrize("text,kind", [
    ("Para verificar, dígame los tres números de atrás de la tarjeta.", "cvv"),
    ("¿Me puede dar el código de seguridad?", "cvv"),
    ("Necesito el número de la tarjeta, la caducidad y el CVV.", "cvv"),
    ("vale y me pasas el código de tres cifras del reverso", "cvv"),
    ("¿Y el CVV?", "cvv"),
    ("el CVV 417, ¿correcto?", "cvv"),  # read back
    ("Could you read me the three digits on the back of the card?", "cvv"),
    ("I just need the security code and we're done", "cvv"),
    ("Expiry date and the three digit security code, please.", "cvv"),
    ("What's your PIN?", "pin"),
    ("bueno decime el pin así lo desbloqueo", "pin"),
    ("Necesito que me diga su número secreto.", "pin"),
    ("Deme su clave, por favor.", "password"),
    ("¿Cuál es su contraseña?", "password"),
    ("pásame tu usuario y contraseña y lo miro yo", "password"),
    ("¿me dice la clave de acceso de la banca online?", "password"),
    ("can you share your login password with me i will not change anything", "password"),
    ("I'll need your online banking password to look into it.", "password"),
])
def test_requests_are_found(text, kind):
    assert [r.kind for r in find_credential_requests(text)] == [kind]


@pytest.mark.parametrize("text", [
    "Nunca le pediremos su PIN ni su contraseña.",
    "Por seguridad, no me diga su contraseña.",
    "We will never ask for your password.",
    "Don't share your PIN with anyone, not even with us.",
    "Para cambiar la contraseña entre en la app.",
    "Marque su PIN en el teclado cuando se lo pida el sistema.",
    "The CVV is the three digit number on the back.",
    "¿Dónde está el código de seguridad?",
    "Le hemos enviado un código de seguridad por SMS.",
    "You can reset your password from the login page.",
    "¿Ha olvidado su contraseña? Le enviamos una nueva.",
    "La clave está en revisar bien el contrato.",
    "Please confirm your date of birth and the billing address pin code.",  # Indian English: a postal code
    "Tarjeta bloqueada por PIN incorrecto.",
    "La tarjeta termina en 6467, ¿correcto?",
])
def test_what_is_not_a_request(text):
    assert find_credential_requests(text) == []


def test_span_runs_from_the_cue_to_the_secret():
    text = "Vale, no pasa nada, dígame el pin de la tarjeta."
    (r,) = find_credential_requests(text)
    assert text[r.start:r.end] == "dígame el pin"
