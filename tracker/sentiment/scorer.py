"""Lexicon-based sentiment of feedback comments, German and English (docs/metrics.md#sentiment).

English: VADER's compound score (`vadersentiment`). German: the polarity lexicon shipped
inside `textblob-de` (Klenner et al.'s German Polarity Lexicon, ~8,000 base forms), read
through textblob-de's `PatternTokenizer` and scored by the rules below, which fix the
lexicon tool's blind spots on customer feedback:

- inflected forms are found by stripping German endings ("schnelle", "Probleme");
- a short supplement adds feedback words the lexicon lacks ("kaputt", "reibungslos")
  and neutralises general-language entries that mislead here ("Qualität", "billig");
- a negator flips the next sentiment word up to four tokens ahead within its clause
  ("nicht so gut", "kein Problem"), or, at the end of a clause, the one just before it
  ("gefällt mir nicht"); a negated word keeps half its weight, as in textblob-de;
- "nie wieder" / "nie mehr" count as a strong complaint;
- intensifiers and downtoners scale the next sentiment word ("sehr gut", "etwas langsam");
- after "aber"/"jedoch" a clause weighs 1.5, before it 0.5 (VADER's "but" rule);
- exclamation marks amplify, a few emoji and emoticons count.

The summed valence `s` is normalised like VADER's: compound = s / sqrt(s^2 + 3).
Polarity: compound >= 0.05 positive, <= -0.05 negative, else neutral.

Pure code, no Faust: the analyzers are loaded once, lazily and thread-safely, and no
text is ever stored (no per-text or per-token caches).
"""

from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass
from typing import Final, Literal, Protocol

from tracker.errors import TrackerError

Polarity = Literal["positive", "negative", "neutral"]
Language = Literal["de", "en"]

POSITIVE_THRESHOLD: Final = 0.05
NEGATIVE_THRESHOLD: Final = -0.05
# Comments are at most 2000 characters on the wire; longer input is cut to bound the cost.
MAX_COMMENT_CHARS: Final = 2000


class UnsupportedLanguageError(TrackerError, ValueError):
    """A comment's language is neither German nor English."""


def polarity_of(compound: float) -> Polarity:
    """The polarity class of a compound score (docs/metrics.md#sentiment: bounds inclusive)."""
    if compound >= POSITIVE_THRESHOLD:
        return "positive"
    if compound <= NEGATIVE_THRESHOLD:
        return "negative"
    return "neutral"


@dataclass(frozen=True, slots=True)
class SentimentScore:
    """A comment's sentiment: compound score in [-1, 1] and its polarity class."""

    compound: float
    polarity: Polarity

    @classmethod
    def of(cls, compound: float) -> SentimentScore:
        bounded = max(-1.0, min(1.0, compound))
        return cls(compound=bounded, polarity=polarity_of(bounded))


NEUTRAL: Final = SentimentScore(compound=0.0, polarity="neutral")


# VADER's cost grows with the square of the length: a comment longer than this is scored
# per chunk of whole sentences, and the chunks' raw valence sums (recovered from their
# compounds) are added and normalised as VADER does, with its alpha.
VADER_CHUNK_CHARS: Final = 400
VADER_ALPHA: Final = 15.0
_SENTENCE_BREAK: Final = re.compile(r"(?<=[.!?])\s+")


def _sentence_chunks(text: str, limit: int) -> list[str]:
    """Consecutive sentences joined into chunks of at most `limit` characters where possible."""
    chunks: list[str] = []
    current = ""
    for sentence in _SENTENCE_BREAK.split(text):
        if current and len(current) + 1 + len(sentence) > limit:
            chunks.append(current)
            current = sentence
        else:
            current = f"{current} {sentence}" if current else sentence
    if current:
        chunks.append(current)
    return chunks


class _VaderLike(Protocol):
    def polarity_scores(self, text: str) -> dict[str, float]: ...


class _TokenizerLike(Protocol):
    """textblob-de's PatternTokenizer: only its stateless methods are used, because its
    `tokenize` keeps the last text's tokens on the instance (stored text, shared state)."""

    def sent_tokenize(self, text: str) -> list[str]: ...

    def word_tokenize(self, sentences: str, include_punc: bool = True) -> list[str]: ...


class SentimentScorer:
    """Scores comments; build one per process and share it (the analyzers load once)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._english: _VaderLike | None = None
        self._german: GermanLexiconScorer | None = None

    def score(self, text: str, language: Language) -> SentimentScore:
        if language not in ("de", "en"):
            raise UnsupportedLanguageError(
                f"cannot score a comment in language {language!r}: expected 'de' or 'en'"
            )
        text = text[:MAX_COMMENT_CHARS]
        if not text.strip():
            return NEUTRAL
        if language == "en":
            return SentimentScore.of(self._english_compound(text))
        return SentimentScore.of(self._german_scorer().compound(text))

    def _english_compound(self, text: str) -> float:
        """VADER's compound; long text is scored per sentence chunk (VADER is quadratic)."""
        vader = self._vader()
        if len(text) <= VADER_CHUNK_CHARS:
            return float(vader.polarity_scores(text)["compound"])
        total = 0.0
        for chunk in _sentence_chunks(text, VADER_CHUNK_CHARS):
            compound = max(-0.9999, min(0.9999, float(vader.polarity_scores(chunk)["compound"])))
            total += compound * math.sqrt(VADER_ALPHA / (1.0 - compound * compound))
        return total / math.sqrt(total * total + VADER_ALPHA)

    def warm_up(self) -> None:
        """Load both analyzers now (e.g. at worker start) instead of on the first comment."""
        self._vader()
        self._german_scorer()

    def _vader(self) -> _VaderLike:
        if self._english is None:
            with self._lock:
                if self._english is None:
                    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

                    self._english = SentimentIntensityAnalyzer()
        return self._english

    def _german_scorer(self) -> GermanLexiconScorer:
        if self._german is None:
            with self._lock:
                if self._german is None:
                    self._german = GermanLexiconScorer.load()
        return self._german


# ---------------------------------------------------------------- German rules

# fmt: off
NEGATORS: Final = frozenset(
    {"nicht", "kein", "keine", "keinen", "keinem", "keiner", "keines", "keinerlei",
     "nie", "niemals", "nichts", "ohne", "weder", "niemand", "nirgends", "nirgendwo"}
)
# "nie wieder", "nie mehr", "nimmer wieder": the customer will not come back.
NEVER_AGAIN: Final = (frozenset({"nie", "niemals", "nimmer"}), frozenset({"wieder", "mehr"}))
NEVER_AGAIN_VALENCE: Final = -1.0
NEGATION_SCALAR: Final = -0.5  # textblob-de's: "nicht gut" is slightly bad
NEGATION_WINDOW: Final = 4  # tokens a negator looks ahead (and back, at a clause end)

# Multipliers for the next sentiment word. Words that also carry polarity of their own
# ("super", "einfach") act as intensifiers only when a sentiment word follows directly.
INTENSIFIERS: Final[dict[str, float]] = {
    "sehr": 1.3, "total": 1.3, "extrem": 1.5, "wirklich": 1.3, "echt": 1.3, "absolut": 1.4,
    "richtig": 1.3, "besonders": 1.3, "äußerst": 1.5, "unglaublich": 1.4, "mega": 1.4,
    "super": 1.3, "völlig": 1.3, "komplett": 1.3, "ziemlich": 1.15, "viel": 1.3, "gar": 1.3,
    "überhaupt": 1.3, "höchst": 1.4, "so": 1.1, "einfach": 1.2, "wahnsinnig": 1.4,
    "etwas": 0.6, "bisschen": 0.6, "wenig": 0.5, "eher": 0.7, "kaum": 0.3, "relativ": 0.8,
    "halbwegs": 0.6,
}
INTENSIFIER_WINDOW: Final = 2  # "sehr gut", "gar nicht gut", "viel zu langsam"
CONTRAST: Final = frozenset({"aber", "jedoch", "allerdings", "trotzdem", "sondern"})
BEFORE_CONTRAST: Final = 0.5
AFTER_CONTRAST: Final = 1.5
CLAUSE_END: Final = frozenset(".,;:!?()[]-\u2013\u2014\u2026\"'") | CONTRAST | {"und", "oder"}
_SENTENCE_END: Final = frozenset(".!?:")
EXCLAMATION_BOOST: Final = 0.1  # per "!", at most four
NORMALISATION_ALPHA: Final = 3.0

EMOJI: Final[dict[str, float]] = {
    "👍": 1.0, "👌": 1.0, "😊": 1.0, "🙂": 0.7, "😀": 1.0, "😃": 1.0, "😍": 1.0, "❤": 1.0,
    "❤️": 1.0, "🥰": 1.0, "👏": 1.0, "⭐": 0.7, "👎": -1.0, "😡": -1.0, "😠": -1.0,
    "😞": -1.0, "🙁": -0.7, "☹️": -0.7, "😢": -1.0, "🤬": -1.0, "💩": -1.0,
    ":)": 0.7, ":-)": 0.7, ":D": 1.0, ":-D": 1.0, ";)": 0.5, ":(": -0.7, ":-(": -0.7,
}

_EMOJI_LOWER: Final = {face.lower(): value for face, value in EMOJI.items()}

# Customer-feedback vocabulary missing from the lexicon (or scored for general prose),
# lower-case. 0.0 removes an entry: quality, update etc. are neutral in feedback, and
# "wirklich", "echt", "richtig", "absolut", "total" are intensifiers here, not praise.
GERMAN_SUPPLEMENT: Final[dict[str, float]] = {
    # praise
    "problemlos": 1.0, "reibungslos": 1.0, "großartig": 1.0, "spitzenklasse": 1.0,
    "bestens": 1.0, "einwandfrei": 1.0, "tadellos": 1.0, "weiterempfehlen": 1.0,
    "empfehle": 1.0, "danke": 0.7, "gerne": 0.5, "gern": 0.5, "gefällt": 0.7, "gefiel": 0.7,
    "mag": 0.5, "funktioniert": 0.5, "funktionierte": 0.5, "klappt": 0.5, "geklappt": 0.5,
    "gelöst": 0.7, "geholfen": 0.7, "hilft": 0.5, "übersichtlich": 0.7, "intuitiv": 0.7,
    "benutzerfreundlich": 1.0, "kundenfreundlich": 1.0, "kulant": 1.0, "zügig": 0.7,
    "flott": 0.7, "blitzschnell": 1.0, "rasch": 0.5, "sauber": 0.7, "lecker": 1.0,
    "stabil": 0.5, "passt": 0.5, "ok": 0.3, "okay": 0.3, "best": 1.0, "besser": 0.7,
    # complaints
    "kaputt": -1.0, "defekt": -1.0, "beschädigt": -1.0, "zerkratzt": -0.7,
    "zerbrochen": -1.0, "verbogen": -0.7, "mangelhaft": -1.0, "leider": -0.5,
    "verspätet": -0.7, "verspätung": -0.7, "verzögert": -0.5, "verzögerung": -0.5,
    "katastrophe": -1.0, "desaster": -1.0, "chaotisch": -1.0, "albtraum": -1.0,
    "alptraum": -1.0, "abzocke": -1.0, "reklamation": -0.3, "nervt": -1.0, "nerven": -0.7,
    "grottig": -1.0, "schrott": -1.0, "mist": -1.0, "fehler": -0.7, "absturz": -1.0,
    "abstürze": -1.0, "stürzt": -0.7, "abgestürzt": -1.0, "unübersichtlich": -0.7,
    "überteuert": -0.7, "ewig": -0.5, "ewigkeit": -0.5, "stundenlang": -0.5,
    "vergeblich": -0.7, "dreckig": -1.0, "schmutzig": -1.0, "verschmutzt": -1.0,
    "stinkt": -1.0, "schimmelig": -1.0, "abgelaufen": -0.5, "fehlt": -0.5, "fehlte": -0.5,
    "ignoriert": -0.7, "unbrauchbar": -1.0, "abraten": -1.0, "stinksauer": -1.0,
    "frustrierend": -1.0, "mittelmäßig": -0.3, "wackelig": -0.7, "bug": -0.7, "bugs": -0.7,
    "fehlermeldung": -0.7, "unerreichbar": -1.0, "unmöglich": -0.7, "inakzeptabel": -1.0,
    "billig": -0.5,
    # neutral in feedback
    "qualität": 0.0, "update": 0.0, "offen": 0.0, "hoch": 0.0, "hart": 0.0, "normal": 0.0,
    "sicher": 0.0, "klar": 0.0, "wichtig": 0.0, "gefragt": 0.0, "dunkel": 0.0, "hell": 0.0,
    "eng": 0.0, "fertig": 0.0, "blau": 0.0, "schwarz": 0.0, "grau": 0.0, "bunt": 0.0,
    "geschickt": 0.0, "erhalten": 0.0, "angemeldet": 0.0, "reserviert": 0.0, "bezahlen": 0.0,
    "kaufen": 0.0, "glauben": 0.0,
    "wirklich": 0.0, "echt": 0.0, "richtig": 0.0, "absolut": 0.0, "total": 0.0,
}

# Endings tried, longest first, when a word form is not in the lexicon.
_SUFFIXES: Final = (
    "esten", "ester", "estes", "estem", "este", "sten", "ster", "stes", "stem", "ste",
    "eren", "erer", "eres", "erem", "ere", "en", "em", "er", "es", "e", "n", "s",
)
_MIN_STEM: Final = 4

# Frequent words that never carry sentiment: skipped before any lexicon lookup.
_FUNCTION_WORDS: Final = frozenset({
    "der", "die", "das", "den", "dem", "des", "ein", "eine", "einen", "einem", "einer", "eines",
    "und", "oder", "aber", "mit", "von", "zu", "zum", "zur", "bei", "nach", "aus", "für", "über",
    "unter", "auf", "an", "am", "im", "in", "ins", "vom", "vor", "um", "bis", "seit", "durch",
    "gegen", "ich", "du", "er", "sie", "es", "wir", "ihr", "mich", "mir", "dich", "dir", "uns",
    "euch", "ihn", "ihm", "ihnen", "man", "mein", "meine", "meinen", "meinem", "meiner", "dein",
    "sein", "seine", "seinen", "ihre", "ihren", "unser", "unsere", "ist", "sind", "war", "waren",
    "bin", "bist", "wird", "werden", "wurde", "wurden", "hat", "habe", "haben", "hatte", "hatten",
    "kann", "können", "konnte", "muss", "musste", "soll", "sollte", "will", "wollte", "würde",
    "hier", "dort", "da", "dann", "denn", "doch", "noch", "schon", "nur", "auch", "immer",
    "wieder", "mal", "wie", "was", "wer", "wo", "wann", "warum", "weil", "dass", "wenn", "ob",
    "als", "sich",
})
# fmt: on


def _textblob_de_lexicon() -> dict[str, float]:
    """textblob-de's polarity lexicon: word form (nouns capitalised) -> polarity."""
    from textblob_de.sentiments import sentiment

    # The lazy dict loads its XML on first access; [None] averages the parts of speech.
    return {
        str(form): float(by_pos[None][0])
        for form, by_pos in sentiment.items()
        if "_" not in form  # multi-word entries ("leid_tun") never match one token
    }


class GermanLexiconScorer:
    """Scores German text with textblob-de's polarity lexicon and the rules above."""

    def __init__(self, lexicon: dict[str, float], tokenizer: _TokenizerLike) -> None:
        # Case is kept: "Regen" (rain) is neutral, "regen" (to stir) is not. Entries of
        # 0.0 stay, so that a known neutral word is never stemmed into a polar one.
        self._lexicon = dict(lexicon)
        for word, polarity in GERMAN_SUPPLEMENT.items():
            self._lexicon[word] = polarity
            self._lexicon[word.capitalize()] = polarity
        self._tokenizer = tokenizer

    @classmethod
    def load(cls) -> GermanLexiconScorer:
        from textblob_de import PatternTokenizer

        return cls(_textblob_de_lexicon(), PatternTokenizer())

    def valence(self, token: str, sentence_start: bool = False) -> float:
        """The polarity of one token as written, 0.0 when unknown.

        The written case is tried first, then lower case and capitalised (nouns typed
        in lower case); at a sentence start lower case goes first ("Gut verpackt").
        """
        lower = token.lower()
        if lower in _FUNCTION_WORDS:
            return 0.0
        capital = token.capitalize()
        variants = dict.fromkeys(
            (lower, token, capital) if sentence_start else (token, lower, capital)
        )
        for variant in variants:
            found = self._lexicon.get(variant)
            if found is not None:
                return found
        emoji = _EMOJI_LOWER.get(lower)
        if emoji is not None:
            return emoji
        if "-" in token:  # "Preis-Leistungs-Verhältnis", "App-Absturz": the head decides
            head = token.rsplit("-", 1)[1]
            return self.valence(head) if head else 0.0
        if not token.isalpha():
            return 0.0
        for variant in variants:
            for suffix in _SUFFIXES:
                if variant.endswith(suffix) and len(variant) - len(suffix) >= _MIN_STEM:
                    found = self._lexicon.get(variant[: -len(suffix)])
                    if found is not None:
                        return found
        return 0.0

    def compound(self, text: str) -> float:
        """A compound-like score in [-1, 1] for German text."""
        split = self._tokenizer
        written = [w for s in split.sent_tokenize(text) for w in split.word_tokenize(s, True)]
        tokens = [t.lower() for t in written]
        base = [
            0.0 if low in NEGATORS else self.valence(w, i == 0 or tokens[i - 1] in _SENTENCE_END)
            for i, (w, low) in enumerate(zip(written, tokens, strict=True))
        ]
        values = [0.0] * len(tokens)
        scale, scale_at = 1.0, 0  # pending intensifier and where it was seen
        negator_at: int | None = None
        clause_start = 0
        contrast_at: int | None = None
        for i, token in enumerate(tokens):
            nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
            if token in CLAUSE_END:
                if negator_at is not None:
                    self._negate_back(values, base, clause_start, negator_at)
                negator_at, scale, clause_start = None, 1.0, i + 1
                if token in CONTRAST and contrast_at is None:
                    contrast_at = i
                continue
            if token in NEVER_AGAIN[0] and nxt in NEVER_AGAIN[1]:
                values[i] = NEVER_AGAIN_VALENCE
                continue
            if token in NEGATORS:
                if nxt != "nur":  # "nicht nur schnell, sondern auch günstig"
                    if negator_at is not None:
                        self._negate_back(values, base, clause_start, negator_at)
                    negator_at = i
                continue
            if token in INTENSIFIERS and (base[i] == 0.0 or (nxt and base[i + 1] != 0.0)):
                fresh = i - scale_at > INTENSIFIER_WINDOW
                scale = (1.0 if fresh else scale) * INTENSIFIERS[token]
                scale_at = i
                continue
            if base[i] == 0.0:
                continue
            value = base[i] * (scale if i - scale_at <= INTENSIFIER_WINDOW else 1.0)
            scale = 1.0
            if negator_at is not None and i - negator_at <= NEGATION_WINDOW:
                value *= NEGATION_SCALAR
                negator_at = None
            values[i] = value
        if negator_at is not None:
            self._negate_back(values, base, clause_start, negator_at)
        if contrast_at is None:
            total = sum(values)
        else:  # VADER's "but" rule
            total = BEFORE_CONTRAST * sum(values[:contrast_at])
            total += AFTER_CONTRAST * sum(values[contrast_at:])
        if total != 0.0:
            total += math.copysign(min(text.count("!"), 4) * EXCLAMATION_BOOST, total)
        return total / math.sqrt(total * total + NORMALISATION_ALPHA)

    @staticmethod
    def _negate_back(
        values: list[float], base: list[float], clause_start: int, negator_at: int
    ) -> None:
        """A negator with nothing to negate ahead flips the sentiment word just before it."""
        for j in range(negator_at - 1, max(clause_start, negator_at - NEGATION_WINDOW) - 1, -1):
            if values[j] != 0.0 and base[j] != 0.0:
                values[j] *= NEGATION_SCALAR
                return
