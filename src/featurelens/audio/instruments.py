"""The music collection's label vocabulary: instrument families, their General MIDI programs, drum kits, registers."""

from __future__ import annotations

# Pitched families and the General MIDI programs (0-based) that play them; names from the GM 1 sound set.
PITCHED_FAMILIES: dict[str, dict[int, str]] = {
    "piano": {0: "Acoustic Grand Piano", 1: "Bright Acoustic Piano", 4: "Electric Piano 1", 5: "Electric Piano 2"},
    "organ": {16: "Drawbar Organ", 17: "Percussive Organ", 19: "Church Organ", 21: "Accordion"},
    "guitar": {24: "Acoustic Guitar (nylon)", 25: "Acoustic Guitar (steel)", 26: "Electric Guitar (jazz)",
               27: "Electric Guitar (clean)"},
    "strings": {40: "Violin", 41: "Viola", 42: "Cello", 48: "String Ensemble 1"},
    "brass": {56: "Trumpet", 57: "Trombone", 60: "French Horn", 61: "Brass Section"},
    "reed": {64: "Soprano Sax", 65: "Alto Sax", 66: "Tenor Sax", 68: "Oboe", 71: "Clarinet"},
}

# Drum kits are presets of bank 128 played on MIDI channel 10; the FluidR3 GM soundfont has all of these.
DRUM_KITS: dict[int, str] = {0: "Standard Kit", 8: "Room Kit", 16: "Power Kit", 24: "Electronic Kit",
                             25: "TR-808 Kit", 32: "Jazz Kit", 40: "Brush Kit"}

DRUMS = "drums"
FAMILIES: tuple[str, ...] = (*PITCHED_FAMILIES, DRUMS)

# Median MIDI pitch a clip is moved towards for each register, and the bounds that name a median's register.
REGISTER_TARGETS: dict[str, int] = {"low": 48, "mid": 62, "high": 76}
REGISTER_BOUNDS = (55, 69)  # median < 55: low; < 69: mid; else high
NO_LABEL = "none"  # register and mode of a drum clip


def register_of(median_pitch: float) -> str:
    """The register name ('low', 'mid', 'high') of a clip whose notes have this median MIDI pitch."""
    low, high = REGISTER_BOUNDS
    return "low" if median_pitch < low else "mid" if median_pitch < high else "high"


def instrument_name(family: str, program: int) -> str:
    """The General MIDI name of `program` in `family` (a drum kit's name for drums)."""
    return DRUM_KITS[program] if family == DRUMS else PITCHED_FAMILIES[family][program]
