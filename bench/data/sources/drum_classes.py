"""The drum class vocabulary, and how a class is read from a name, a tag list or a GM note.

Shared by the Hydrogen source (instrument names + MIDI notes) and the Freesound one-shot source
(Freesound tags), so the same words mean the same class everywhere.

Choices (documented because they change what a "class" is):

* Ride, crash, china, splash and cymbal bells are one class, ``cymbal`` (DrumGAN's split:
  kick / snare / cymbal); the instrument name stays in the entry's ``extra``.
* Hi-hats are split in ``closed_hihat`` (closed, pedal/foot, choked) and ``open_hihat`` (open,
  semi-open, swish). A hat with no qualifier counts as closed unless its GM note says 46.
* ``rim`` holds side stick, rim click, claves and wood blocks (short wooden clicks).
* ``hand_drum`` holds conga, bongo, djembe, cajon, tabla, darbuka.
* The instrument *name* decides first and the GM note only when the name says nothing: kit
  authors name their sounds carefully but often leave notes at a default (every instrument on
  60) or reuse notes (ForzeeStereo maps "Snare 2" to note 47, a GM tom). When both speak and
  disagree the entry gets a note saying so.
* A bare "bell" or "drum" says nothing (cowbell? ride bell? dunun bell?): the note decides, or
  the clip is quarantined as unclassifiable. Cymbal makers' names (Paiste, Sabian, Zildjian,
  Meinl) do say cymbal ("Paiste Bell" is a ride bell).
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

CLASSES = ("kick", "snare", "rim", "clap", "snap", "closed_hihat", "open_hihat", "tom", "cymbal",
           "cowbell", "tambourine", "shaker", "hand_drum")

#: General MIDI percussion key map (channel 10) → class. Notes absent here (vibraslap, timbales,
#: whistles, guiro, cuica, triangle, ...) give no class.
GM_NOTES: dict[int, str] = {
    35: "kick", 36: "kick",
    37: "rim",
    38: "snare", 40: "snare",
    39: "clap",
    41: "tom", 43: "tom", 45: "tom", 47: "tom", 48: "tom", 50: "tom",
    42: "closed_hihat", 44: "closed_hihat",
    46: "open_hihat",
    49: "cymbal", 51: "cymbal", 52: "cymbal", 53: "cymbal", 55: "cymbal", 57: "cymbal", 59: "cymbal",
    54: "tambourine",
    56: "cowbell", 67: "cowbell", 68: "cowbell",             # 67/68 agogo
    60: "hand_drum", 61: "hand_drum", 62: "hand_drum", 63: "hand_drum", 64: "hand_drum",
    69: "shaker", 70: "shaker", 82: "shaker",                # cabasa, maracas, shaker
    75: "rim", 76: "rim", 77: "rim",                         # claves, wood blocks
}

# Ordered: the first family whose pattern matches wins ("Snare Rimshot" is a snare, "Cowbell"
# is not a cymbal bell, "Tambourine Pedal" is not a hi-hat pedal). Text is normalised first
# (see _normalise): lower case, words split at camelCase, digits and punctuation.
_FAMILIES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (family, re.compile(pattern)) for family, pattern in (
        ("hihat", r"\bhi ?hats?\b|\bhigh ?hats?\b|\bhihats?\b|\bhh\b|\bhats?\b|\bchh\b|\bohh\b|\bphh\b"),
        ("tambourine", r"\btamb|\btamborine|\bjingle|\bpandeiro"),
        ("cowbell", r"\bcow ?bells?\b|\bagogo"),
        ("cymbal", r"\bcrash|\bride\b|\brides\b|\bcymbal|\bsplash|\bchina\b|\bcym\b|\bzil\b"
                   r"|\bpaiste|\bsabian|\bzildjian|\bmeinl"),          # cymbal makers: "Paiste Bell"
        ("clap", r"\bclap"),
        ("snap", r"\bsnap|\bfinger ?snap"),
        ("snare", r"\bsnare|\bsd\b|\bsn\b|\brimshot"),
        ("kick", r"\bkick|\bkik\b|\bbass ?drum|\bbassdrum|\bbd\b"),
        ("rim", r"\brim\b|\bside ?stick|\bsidestick|\bcross ?stick|\bsticks?\b|\bclaves?\b"
                r"|\bwood ?block|\bclick\b"),
        ("tom", r"\btom"),
        ("shaker", r"\bshak|\bmaraca|\bcabasa"),
        ("hand_drum", r"\bconga|\bbongo|\bdjembe|\bcajon|\btabla|\bdarbuka|\bdarabuka|\bdoumbek"),
    ))

_OPEN_HAT = re.compile(r"\bopen|\bopened\b|\bop\b|\bohh\b|\bsemi|\bswish|\bhalf\b")
_CLOSED_HAT = re.compile(r"\bclosed?\b|\bcl\b|\bchh\b|\bpedal|\bfoot|\bchick|\bchoke|\btight|\bpd\b|\bphh\b")


def _normalise(text: str) -> str:
    text = re.sub(r"([a-z])([A-Z])", r"\1 \2", text)          # HiHatClosed -> Hi Hat Closed
    text = text.lower()
    text = re.sub(r"([a-z])(\d)|(\d)([a-z])", lambda m: f"{m.group(1) or m.group(3)} "
                  f"{m.group(2) or m.group(4)}", text)          # tom2 -> tom 2, 16inch -> 16 inch
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())


def family_of(text: str) -> str | None:
    """The first family named in ``text`` (``hihat`` is not yet split open/closed)."""
    norm = _normalise(text)
    for family, pattern in _FAMILIES:
        if pattern.search(norm):
            return family
    return None


def _hihat_kind(text: str, midi_note: int | None) -> str:
    norm = _normalise(text)
    if _OPEN_HAT.search(norm):
        return "open_hihat"
    if _CLOSED_HAT.search(norm):
        return "closed_hihat"
    return "open_hihat" if midi_note == 46 else "closed_hihat"


def class_from_text(text: str, midi_note: int | None = None) -> str | None:
    """The class a name or phrase says, or None. ``midi_note`` only splits an unqualified hat."""
    family = family_of(text)
    if family == "hihat":
        return _hihat_kind(text, midi_note)
    return family


@dataclass(frozen=True)
class ClassGuess:
    label: str | None       # None: cannot tell
    basis: str              # "name" | "midi_note" | "none"
    note: str | None = None  # a disagreement worth recording on the entry


def classify_instrument(name: str, midi_note: int | None) -> ClassGuess:
    """Class of a drum-kit instrument from its name, else from its (trusted) GM note."""
    by_name = class_from_text(name, midi_note)
    by_note = GM_NOTES.get(midi_note) if midi_note is not None else None
    if by_name is not None:
        note = None
        if by_note is not None and by_note != by_name:
            note = f"instrument name says {by_name}; GM note {midi_note} says {by_note}"
        return ClassGuess(by_name, "name", note)
    if by_note is not None:
        return ClassGuess(by_note, "midi_note")
    return ClassGuess(None, "none")


def class_from_tags(tags: Iterable[str]) -> tuple[str | None, str]:
    """Class from a free-form tag list; returns ``(label, "")`` or ``(None, reason)``.

    Each tag names at most one family; the clip needs exactly one family among its tags
    (several → ambiguous). Hi-hat open/closed is then read from all tags together.
    """
    tags = [str(t) for t in tags]
    families = sorted({f for f in (family_of(t) for t in tags) if f is not None})
    if not families:
        return None, f"its tags name no drum class (tags: {', '.join(tags) or 'none'})"
    if len(families) > 1:
        return None, (f"its tags name several drum classes ({', '.join(families)}; "
                      f"tags: {', '.join(tags)})")
    if families[0] == "hihat":
        return _hihat_kind(" ".join(tags), None), ""
    return families[0], ""
