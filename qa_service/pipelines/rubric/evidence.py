"""Evidence an analyst can use: checked against the transcript as read, masked, and pointing somewhere on a fail.

* :func:`verify_evidence` recomputes where a quote is: it searches the quoted words in the turn the evidence names
  and takes their offsets from there. A quote found elsewhere than claimed (other offsets, another turn) is moved
  to where it is and reported; a quote not in the transcript is reported. Either report makes the scorer flag the
  criterion ``needs_review`` and say why, whatever detector produced the evidence.
* :class:`TurnMasker` masks sensitive identifiers in quotes (at most the last 4 characters stay), reading the whole
  turn and the turns before it, so a number is recognised even when the quote holds only part of it or its
  context word ("DNI") is outside the quote.
"""

from __future__ import annotations

from qa_service.pipelines.rubric.detectors import CONTEXT_TURNS
from qa_service.schemas import Evidence, Transcript
from qa_service.text.identifiers import mask_identifiers

_MESSAGES = {
    "es": {"no_turn": "el turno {turn} no existe", "empty": "la cita del turno {turn} está vacía",
           "moved": "la cita no está en el turno {turn} sino en el {found}",
           "offsets": "los caracteres {a}-{b} del turno {turn} no son la cita (está en {c}-{d})",
           "missing": "la cita no está en el turno {turn} ni en otro turno",
           "speaker": "el turno {turn} es de {actual}, no de {claimed}"},
    "en": {"no_turn": "turn {turn} does not exist", "empty": "the quote of turn {turn} is empty",
           "moved": "the quote is not in turn {turn} but in turn {found}",
           "offsets": "characters {a}-{b} of turn {turn} are not the quote (it is at {c}-{d})",
           "missing": "the quote is in neither turn {turn} nor any other turn",
           "speaker": "turn {turn} is the {actual}'s, not the {claimed}'s"},
}
_SPEAKERS = {"es": {"agent": "el agente", "customer": "el cliente", "system": "el sistema"},
             "en": {"agent": "agent", "customer": "customer", "system": "system"}}


def _nearest(text: str, quote: str, near: int) -> int | None:
    """Start of the occurrence of ``quote`` in ``text`` nearest to ``near``, or None."""
    best, pos = None, text.find(quote)
    while pos >= 0:
        if best is None or abs(pos - near) < abs(best - near):
            best = pos
        pos = text.find(quote, pos + 1)
    return best


def verify_evidence(transcript: Transcript, e: Evidence, language: str = "en") -> tuple[Evidence, str | None]:
    """Check one piece of evidence against the transcript and recompute its turn and offsets from the source text.

    Args:
        transcript: the transcript as read (the one the detectors looked at).
        e: the evidence as a detector produced it (its ``text`` is the quote).
        language: language of the message (``es`` or ``en``).

    Returns:
        The evidence with turn, speaker and offsets where the quote is (unchanged when it was right or when the
        quote is nowhere), and a message saying what did not hold, or None when everything did.
    """
    msg = _MESSAGES.get(language, _MESSAGES["en"])
    turns = transcript.turns
    if not e.text:
        return e, msg["empty"].format(turn=e.turn)
    if e.turn < len(turns):
        src = turns[e.turn].text
        if src[e.start_char:e.end_char] == e.text:
            if turns[e.turn].speaker != e.speaker:
                names = _SPEAKERS.get(language, _SPEAKERS["en"])
                fixed = e.model_copy(update={"speaker": turns[e.turn].speaker})
                return fixed, msg["speaker"].format(turn=e.turn, actual=names[turns[e.turn].speaker],
                                                    claimed=names[e.speaker])
            return e, None
        pos = _nearest(src, e.text, e.start_char)
        if pos is not None:
            fixed = e.model_copy(update={"start_char": pos, "end_char": pos + len(e.text),
                                         "speaker": turns[e.turn].speaker})
            return fixed, msg["offsets"].format(a=e.start_char, b=e.end_char, turn=e.turn, c=pos,
                                                d=pos + len(e.text))
    # Not in the turn it names: where is it, if anywhere? (nearest turn first)
    for k in sorted(range(len(turns)), key=lambda k: abs(k - e.turn)):
        pos = _nearest(turns[k].text, e.text, e.start_char)
        if pos is not None:
            fixed = e.model_copy(update={"turn": k, "speaker": turns[k].speaker, "start_char": pos,
                                         "end_char": pos + len(e.text)})
            return fixed, msg["moved"].format(turn=e.turn, found=k)
    if e.turn >= len(turns):
        return e, msg["no_turn"].format(turn=e.turn)
    return e, msg["missing"].format(turn=e.turn)


class TurnMasker:
    """Masks identifiers in quotes of one transcript, each turn read once (with its :data:`CONTEXT_TURNS` turns
    before as context)."""

    def __init__(self, transcript: Transcript) -> None:
        self.transcript = transcript
        self._masked: dict[int, str] = {}

    def turn(self, i: int) -> str:
        """Turn ``i`` with its identifiers masked (same length as the turn)."""
        if i not in self._masked:
            turns = self.transcript.turns
            context = " ".join(turns[k].text for k in range(max(0, i - CONTEXT_TURNS), i))
            lang = self.transcript.language if self.transcript.language in ("es", "en") else None
            self._masked[i] = mask_identifiers(turns[i].text, context=context, language=lang)
        return self._masked[i]

    def __call__(self, e: Evidence) -> Evidence:
        """``e`` with its quote masked: cut from the masked turn when the quote is at its offsets, else masked on
        its own."""
        turns = self.transcript.turns
        if e.turn < len(turns) and turns[e.turn].text[e.start_char:e.end_char] == e.text:
            text = self.turn(e.turn)[e.start_char:e.end_char]
        else:
            text = mask_identifiers(e.text)
        return e if text == e.text else e.model_copy(update={"text": text})
