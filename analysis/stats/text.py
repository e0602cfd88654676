"""Topic-free text disagreement: lexicon negativity of texts, per text and pooled (docs/text.md).

The measure judges no claim and filters no topic: every text is scored with a general sentiment
lexicon, and the negativity of a set of texts (a wave's free-text answers, a month of letters)
forms one point of a longitudinal disagreement series.

Pipeline (each step configurable in :class:`TextPipeline`):

1. **lowercase** the text;
2. **tokenize**: runs of letters, with inner apostrophes kept (``don't``, ``people's``); digits,
   punctuation, URLs' symbols and emoticons separate tokens and are never scored;
3. **drop stop-words** (:data:`ENGLISH_STOP_WORDS`, closed-class function words; your own set
   or none);
4. **base form** with simplemma (its dictionaries ship inside its wheel; nothing is downloaded),
   e.g. ``hated`` -> ``hate``, ``children`` -> ``child``. A base form the lexicon lacks is looked
   up as the word itself (``surface_fallback``), because lexicons such as VADER list inflected
   forms with their own ratings;
5. **optional part-of-speech filter** keeping nouns, adjectives and adverbs (``keep_pos``). A
   contextual tagger needs model data that is not on PyPI (NLTK's perceptron tagger). Without
   one, the filter works at the level of the word: a word is kept when the lexicon lists a
   noun, adjective or adverb sense of it, and scored by the first such sense (lexicons with
   parts of speech, i.e. SentiWordNet). With a lexicon without parts of speech (VADER) and no
   tagger the filter cannot work; :attr:`TextScorer.notes` says so and every word is kept.
   Pass ``tagger=nltk_tagger()`` when NLTK and its tagger data are installed locally;
6. **lexicon lookup**: negativity and positivity of the word, each in 0..1. VADER (bundled in
   ``vaderSentiment``): negativity = max(0, -valence) / 4, positivity = max(0, valence) / 4.
   SentiWordNet 3.0 (a file you supply, :func:`load_sentiwordnet`): NegScore and PosScore of the
   first (most frequent) sense.

A word is *scored* when the lexicon has it (also with negativity 0), *not found* when it has
not, *dropped* when a stop-word or the POS filter removed it. Indices of a set of texts:

* ``text_negativity``: sum of negativity over the scored words / number of scored words, pooled
  over the texts (a text with many scored words weighs more);
* ``text_negativity_mean``: mean over texts of each text's own ratio (texts without a scored
  word have no ratio and are left out).

Both are undefined (NaN) without any scored word. Every step after tokenizing depends on the
word alone, so each distinct word is processed once and texts are scored by array sums over
word ids; that is what makes a million texts a matter of seconds.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.stats import glossary
from analysis.stats.bootstrap import DEFAULT_LEVEL, bootstrap_participants
from common import group_keys

TEXT_INDICES = glossary.names(glossary.TEXT)  # text_negativity (pooled), text_negativity_mean
PERIODS = ("year", "month", "week")

#: Letters (any script), with inner apostrophes: "don't", "people’s".
TOKEN_RE = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")

#: Closed-class English function words (articles, pronouns, prepositions, conjunctions,
#: auxiliaries, common contractions). Negations ("no", "not", "never") are stop-words here, as
#: in the usual stop lists: never scored themselves, they still turn the next words' scores
#: round when negation is on (:data:`NEGATORS`).
ENGLISH_STOP_WORDS = frozenset("""
a about above after again against all am an and any are aren't as at be because been before being
below between both but by can can't cannot could couldn't did didn't do does doesn't doing don't down
during each few for from further had hadn't has hasn't have haven't having he he'd he'll he's her here
here's hers herself him himself his how how's i i'd i'll i'm i've if in into is isn't it it's its itself
let's me more most mustn't my myself no nor not of off on once only or other ought our ours ourselves
out over own same shan't she she'd she'll she's should shouldn't so some such than that that's the their
theirs them themselves then there there's these they they'd they'll they're they've this those through
to too under until up very was wasn't we we'd we'll we're we've were weren't what what's when when's
where where's which while who who's whom why why's with won't would wouldn't you you'd you'll you're
you've your yours yourself yourselves will shall may might must also just never yet s t d ll m re ve
""".split())

#: Closed-class German function words (articles, pronouns, prepositions, conjunctions,
#: auxiliaries). The negations ("nicht", "kein", "nie") are among them, as in the English list.
GERMAN_STOP_WORDS = frozenset("""
der die das den dem des ein eine einen einem einer eines und oder aber doch sondern denn weil dass
ob wenn als wie auch noch schon nur sehr so zu zum zur im in ins am an auf aus bei mit nach von vor
über unter durch für gegen ohne um bis seit ich du er sie es wir ihr mich dich sich uns euch mir dir
ihm ihn ihnen mein meine dein deine sein seine unser unsere euer eure ihre ist bin bist sind seid
war waren wird werden wurde wurden hat habe hast haben hatte hatten kann können muss müssen soll
sollen will wollen darf dürfen mag nicht kein keine keinen keinem keiner keines nie nichts man
dies diese dieser dieses diesen jener jene welche welcher wer was wo wann hier dort da dann
""".split())
STOP_WORDS: dict[str, frozenset[str]] = {"en": ENGLISH_STOP_WORDS, "de": GERMAN_STOP_WORDS}

#: VADER's negation rule (Hutto & Gilbert 2014): a lexicon word with one of these words among
#: the three tokens before it has its valence multiplied by N_SCALAR = -0.74 (once per such
#: word). English: VADER's own list (also any word ending in "n't"); German: the usual negations.
N_SCALAR = -0.74
_VADER_NEGATE = frozenset("""
aint arent cannot cant couldnt darent didnt doesnt ain't aren't can't couldn't daren't didn't doesn't
dont hadnt hasnt havent isnt mightnt mustnt neither don't hadn't hasn't haven't isn't mightn't mustn't
neednt needn't never none nope nor not nothing nowhere oughtnt shant shouldnt uhuh wasnt werent
oughtn't shan't shouldn't uh-uh wasn't weren't without wont wouldnt won't wouldn't rarely seldom despite
""".split())
NEGATORS: dict[str, frozenset[str]] = {
    "en": _VADER_NEGATE,
    "de": frozenset("nicht nichts kein keine keinen keinem keiner keines nie niemals niemand nirgends "
                    "weder ohne".split()),
}

#: Coarse parts of speech: noun, verb, adjective (WordNet's satellite "s" counts as "a"), adverb.
POS_ORDER = ("n", "v", "a", "r")
CONTENT_POS = frozenset({"n", "a", "r"})

DROPPED, SCORED, NOT_FOUND = 0, 1, 2


class TextError(ValueError):
    """Bad text input or lexicon; ``line`` is the 1-based line of a lexicon file when known."""

    def __init__(self, message: str, *, line: int | None = None):
        super().__init__(message)
        self.line = line


class ComponentMissing(RuntimeError):
    """An optional component (package or model data) is not installed; the message says which."""


# --------------------------------------------------------------------------- lexicons


@dataclass(frozen=True)
class Lexicon:
    """Word -> (negativity, positivity), each in 0..1.

    ``scores`` is looked up without a part of speech. ``by_pos`` (lexicons with parts of
    speech) maps ``(word, pos)`` to the scores of the word's first sense with that part of
    speech; ``scores`` then holds the first sense in WordNet's order of parts of speech
    (noun, verb, adjective, adverb), as ``senti_synsets(word)`` lists them.
    """

    name: str
    scores: Mapping[str, tuple[float, float]]
    by_pos: Mapping[tuple[str, str], tuple[float, float]] | None = None
    #: ISO 639-1 code of the lexicon's language; None when a file did not say (it is then
    #: taken to be in the language of the texts, and the scorer says so).
    language: str | None = None

    @property
    def has_pos(self) -> bool:
        return self.by_pos is not None

    def __len__(self) -> int:
        return len(self.scores)

    def lookup(self, word: str, pos: str | None = None) -> tuple[float, float] | None:
        if pos is None or self.by_pos is None:
            return self.scores.get(word)
        return self.by_pos.get((word, pos))

    def first_of(self, word: str, parts: Iterable[str]) -> tuple[float, float] | None:
        """Scores of the first sense among the parts of speech ``parts`` (in WordNet's order)."""
        if self.by_pos is None:
            return self.scores.get(word)
        for pos in POS_ORDER:
            if pos in parts and (word, pos) in self.by_pos:
                return self.by_pos[(word, pos)]
        return None


def vader_valence_to_scores(valence: float) -> tuple[float, float]:
    """VADER valence (-4..4) as (negativity, positivity) in 0..1."""
    return max(0.0, -valence) / 4.0, max(0.0, valence) / 4.0


def parse_vader(lines: Iterable[str], name: str = "vader") -> Lexicon:
    """VADER's lexicon format: ``token<TAB>mean valence<TAB>sd<TAB>ratings``. As in
    vaderSentiment itself, a token listed twice keeps its last rating."""
    scores: dict[str, tuple[float, float]] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        parts = line.rstrip("\n").split("\t")
        try:
            valence = float(parts[1])
        except (IndexError, ValueError):
            raise TextError(f"line {number}: expected 'token<TAB>valence', got {line.strip()[:40]!r}",
                            line=number) from None
        scores[parts[0].lower()] = vader_valence_to_scores(valence)
    return Lexicon(name, scores)


@lru_cache(maxsize=1)
def vader_lexicon() -> Lexicon:
    """The lexicon bundled inside the ``vaderSentiment`` wheel (7,500 English tokens, no download)."""
    try:
        from importlib import resources

        text = (resources.files("vaderSentiment") / "vader_lexicon.txt").read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError) as error:
        raise ComponentMissing(
            "the default lexicon needs the vaderSentiment package (pip install vaderSentiment); "
            f"or give a SentiWordNet file with swn:PATH ({error})") from None
    return replace(parse_vader(text.splitlines(), name="vader"), language="en")


def parse_sentiwordnet(lines: Iterable[str], name: str = "swn") -> Lexicon:
    """SentiWordNet 3.0's text format: ``POS<TAB>ID<TAB>PosScore<TAB>NegScore<TAB>SynsetTerms<TAB>Gloss``
    with terms ``word#sense`` separated by spaces and ``#`` comment lines. Each (word, part of
    speech) keeps its first, most frequent sense (lowest sense number)."""
    best: dict[tuple[str, str], tuple[int, tuple[float, float]]] = {}
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        parts = line.rstrip("\n").split("\t")
        if len(parts) < 5:
            raise TextError(f"line {number}: expected POS, ID, PosScore, NegScore, SynsetTerms separated by tabs",
                            line=number)
        pos = parts[0].strip().lower()
        pos = "a" if pos == "s" else pos
        if pos not in POS_ORDER:
            raise TextError(f"line {number}: part of speech {parts[0]!r} is not one of a, n, r, v", line=number)
        try:
            positivity, negativity = float(parts[2]), float(parts[3])
        except ValueError:
            raise TextError(f"line {number}: PosScore {parts[2]!r} or NegScore {parts[3]!r} is not a number",
                            line=number) from None
        if not (0 <= positivity <= 1 and 0 <= negativity <= 1 and positivity + negativity <= 1 + 1e-9):
            raise TextError(f"line {number}: scores must lie in 0..1 and sum to at most 1", line=number)
        for term in parts[4].split():
            word, _hash, sense = term.rpartition("#")
            if not word or not sense.isdigit():
                raise TextError(f"line {number}: synset term {term!r} is not 'word#sense'", line=number)
            key = (word.lower(), pos)
            rank = int(sense)
            if key not in best or rank < best[key][0]:
                best[key] = (rank, (negativity, positivity))
    if not best:
        raise TextError("no SentiWordNet entries found (expected lines 'a<TAB>00001740<TAB>0.125<TAB>0<TAB>able#1<TAB>...')")
    by_pos = {key: value for key, (_rank, value) in best.items()}
    scores: dict[str, tuple[float, float]] = {}
    for pos in reversed(POS_ORDER):  # the first part of speech in WordNet's order wins
        for (word, entry_pos), value in by_pos.items():
            if entry_pos == pos:
                scores[word] = value
    return Lexicon(name, scores, by_pos, language="en")


def load_sentiwordnet(path: str | Path) -> Lexicon:
    """Read a SentiWordNet 3.0 file (``SentiWordNet_3.0.0.txt``) from a path the user gives."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as error:
        raise TextError(f"{path}: cannot read the SentiWordNet file ({error.strerror or error})") from None
    try:
        return parse_sentiwordnet(text.splitlines(), name=f"swn:{path.name}")
    except TextError as error:
        raise TextError(f"{path.name}:{error.line}: {str(error).split(': ', 1)[-1]}" if error.line
                        else f"{path.name}: {error}", line=error.line) from None


_LANGUAGE_LINE = re.compile(r"^#\s*language\s*:\s*([A-Za-z]{2,3})\s*$")


def _polarity_to_scores(polarity: float) -> tuple[float, float]:
    return max(0.0, -polarity), max(0.0, polarity)


def parse_polarity_lexicon(lines: Iterable[str], name: str = "lexicon") -> Lexicon:
    """A word list with polarities in -1..1, one word a line (docs/text.md, "Lexicon files"):

    * **SentiWS** (German, Leipzig): ``Wort|POS<TAB>weight<TAB>Inflection,Inflection,...``;
      the inflected forms get the weight of their base form. Its language is ``de``.
    * **plain**: ``word<TAB>polarity`` (a comma or semicolon instead of the tab works too),
      with an optional first line ``# language: xx`` naming the language.

    Negativity = max(0, -polarity), positivity = max(0, polarity). ``#`` lines are comments; a
    word listed twice keeps its last polarity."""
    scores: dict[str, tuple[float, float]] = {}
    language = None
    sentiws = False
    for number, line in enumerate(lines, start=1):
        stripped = line.strip().lstrip("\ufeff")
        if not stripped:
            continue
        if stripped.startswith("#"):
            found = _LANGUAGE_LINE.match(stripped)
            if found:
                language = found[1].lower()
            continue
        parts = re.split(r"\t|;|,(?=\s*[-+]?\d)", stripped, maxsplit=2) if "\t" not in stripped else stripped.split("\t")
        if len(parts) < 2:
            raise TextError(f"line {number}: expected 'word<TAB>polarity' (or SentiWS 'Wort|POS<TAB>weight<TAB>"
                            f"forms'), got {stripped[:40]!r}", line=number)
        word = parts[0].strip()
        try:
            polarity = float(parts[1].strip())
        except ValueError:
            raise TextError(f"line {number}: polarity {parts[1].strip()!r} is not a number", line=number) from None
        if not -1 <= polarity <= 1:
            raise TextError(f"line {number}: polarity {polarity:g} is outside -1..1", line=number)
        if "|" in word:
            sentiws = True
            word = word.split("|", 1)[0]
        value = _polarity_to_scores(polarity)
        scores[word.lower()] = value
        if len(parts) > 2:
            for form in parts[2].split(","):
                if form.strip():
                    scores.setdefault(form.strip().lower(), value)
    if not scores:
        raise TextError("no entries found (expected lines 'word<TAB>polarity')")
    if sentiws and language is None:
        language = "de"
    return Lexicon(name, scores, language=language)


def load_lexicon_file(paths: str | Path | Sequence[str | Path]) -> Lexicon:
    """One lexicon from one or more files (SentiWS comes as a positive and a negative file):
    a SentiWordNet 3.0 file, a SentiWS file or a plain ``word<TAB>polarity`` list; all of one
    language. Errors name the file and line."""
    paths = [Path(paths)] if isinstance(paths, str | Path) else [Path(p) for p in paths]
    if not paths:
        raise TextError("no lexicon file given")
    parts = []
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8-sig", errors="replace")
        except OSError as error:
            raise TextError(f"{path}: cannot read the lexicon file ({error.strerror or error})") from None
        lines = text.splitlines()
        first = next((line for line in lines if line.strip() and not line.lstrip().startswith("#")), "")
        fields = first.split("\t")
        is_swn = len(fields) >= 5 and fields[0].strip().lower() in {"a", "n", "r", "v", "s"}
        try:
            if is_swn:
                parts.append(parse_sentiwordnet(lines, name=path.name))
            else:
                parts.append(parse_polarity_lexicon(lines, name=path.name))
        except TextError as error:
            detail = str(error).split(": ", 1)[-1] if error.line else str(error)
            where = f"{path.name}:{error.line}" if error.line else path.name
            raise TextError(f"{where}: {detail}", line=error.line) from None
    languages = {p.language for p in parts if p.language}
    if len(languages) > 1:
        raise TextError(f"the lexicon files are in different languages ({', '.join(sorted(languages))})")
    if len(parts) == 1:
        return parts[0]
    scores: dict[str, tuple[float, float]] = {}
    for part in parts:
        scores.update(part.scores)
    return Lexicon("+".join(p.name for p in parts), scores, language=next(iter(languages), None))


def get_lexicon(spec: str | Sequence[str]) -> Lexicon:
    """``vader`` (default, English), ``swn:PATH`` (SentiWordNet 3.0, English) or the path(s) of
    lexicon files (:func:`load_lexicon_file`)."""
    if not isinstance(spec, str):
        specs = list(spec)
        if len(specs) == 1:
            return get_lexicon(specs[0])
        return load_lexicon_file(specs)
    if spec == "vader":
        return vader_lexicon()
    if spec.startswith("swn:") and len(spec) > 4:
        return load_sentiwordnet(spec[4:])
    if Path(spec).is_file():
        return load_lexicon_file(spec)
    raise TextError(f"unknown lexicon {spec!r}: use 'vader', 'swn:PATH' (a SentiWordNet 3.0 file) or the path "
                    f"of a lexicon file (SentiWS or 'word<TAB>polarity')")


# --------------------------------------------------------------------------- taggers

_PENN_TO_COARSE = {"N": "n", "V": "v", "J": "a", "R": "r"}


def nltk_tagger() -> Callable[[list[str]], list[str]]:
    """NLTK's contextual perceptron tagger, tags mapped to n/v/a/r (anything else: ``x``).

    Needs ``nltk`` and its tagger data installed locally; nothing is downloaded. Raises
    :class:`ComponentMissing` with what is missing."""
    try:
        import nltk
    except ModuleNotFoundError:
        raise ComponentMissing("part-of-speech tagging needs NLTK (pip install nltk) and its tagger data") from None
    for resource in ("taggers/averaged_perceptron_tagger_eng", "taggers/averaged_perceptron_tagger"):
        try:
            nltk.data.find(resource)
            break
        except LookupError:
            continue
    else:
        raise ComponentMissing("NLTK's tagger data is not installed (it is not on PyPI; run "
                               "nltk.download('averaged_perceptron_tagger_eng') once, offline copies work)")

    def tag(tokens: list[str]) -> list[str]:
        return [_PENN_TO_COARSE.get(penn[:1], "x") for _token, penn in nltk.pos_tag(tokens)]

    return tag


# --------------------------------------------------------------------------- pipeline


@lru_cache(maxsize=8)
def _lemmatizer(language: str) -> Callable[[str], str]:
    try:
        import simplemma
    except ModuleNotFoundError:
        raise ComponentMissing("base forms need simplemma (pip install simplemma); "
                               "or turn lemmatization off") from None

    def lemma(word: str) -> str:
        return simplemma.lemmatize(word, lang=language).lower()

    return lemma


@dataclass(frozen=True)
class TextPipeline:
    """The steps between a text and its scored words (see the module docstring)."""

    language: str = "en"
    lowercase: bool = True
    #: None: the list of the language (:data:`STOP_WORDS`; none for other languages).
    stop_words: frozenset[str] | None = None
    lemmatize: bool = True
    surface_fallback: bool = True
    pos_filter: bool = False
    keep_pos: frozenset[str] = CONTENT_POS
    tagger: Callable[[list[str]], list[str]] | None = field(default=None, compare=False)
    #: VADER's negation rule (:data:`N_SCALAR`); False gives the seed method's plain word scores.
    negation: bool = True

    def __post_init__(self):
        language = (self.language or "en").split("-")[0].lower()
        object.__setattr__(self, "language", language)
        if self.stop_words is None:
            object.__setattr__(self, "stop_words", STOP_WORDS.get(language, frozenset()))

    def describe(self) -> dict:
        return {"language": self.language, "lowercase": self.lowercase, "stop_words": len(self.stop_words),
                "negation": self.negation,
                "lemmatize": self.lemmatize, "surface_fallback": self.surface_fallback,
                "pos_filter": ("tagger" if self.tagger else "lexicon") if self.pos_filter else "off",
                "keep_pos": sorted(self.keep_pos)}


def tokenize(text: str, *, lowercase: bool = True) -> list[str]:
    """Steps 1 and 2: the text's word tokens."""
    return TOKEN_RE.findall(text.lower() if lowercase else text)


def _normalise(word: str) -> str:
    word = word.replace("’", "'")
    if word.endswith("'s"):
        word = word[:-2]  # possessive: "people's" -> "people"
    return word


@dataclass
class TextScores:
    """Per text: counts of tokens, scored, not-found and dropped words, summed negativity and
    positivity over the scored words."""

    tokens: np.ndarray
    scored: np.ndarray
    not_found: np.ndarray
    dropped: np.ndarray
    negativity: np.ndarray
    positivity: np.ndarray

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def ratio(self) -> np.ndarray:
        """Each text's negativity / scored words (NaN without a scored word)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.scored > 0, self.negativity / np.maximum(self.scored, 1), np.nan)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame({"tokens": self.tokens, "scored": self.scored, "not_found": self.not_found,
                             "dropped": self.dropped, "negativity": self.negativity,
                             "positivity": self.positivity, "text_negativity": self.ratio})


class _Vocabulary(dict):
    """Key -> id, assigning the next id to a new key (so lookups stay C-speed ``dict`` hits)."""

    def __missing__(self, key):
        value = self[key] = len(self)
        return value


#: Per distinct whitespace-separated chunk: tokens, scored, not found, dropped, negativity,
#: positivity, negation words.
_FEATURES = 7
#: Separates texts in a batch; has no letters, so it counts as no token.
_SENTINEL = "\x00\x01"


class TextScorer:
    """Scores texts with one lexicon and one pipeline, remembering the outcome of each distinct
    chunk of text between spaces (``"hated,"``, ``"well-meant"``) and of each distinct word.

    Splitting on whitespace is fast in Python, regular expressions are not; as every step after
    tokenizing depends on the word alone, a chunk's tokens (by :data:`TOKEN_RE`) and their
    outcomes are computed once per distinct chunk, and a text's counts are array sums over its
    chunks. The result is the same as tokenizing each text with :func:`tokenize`.

    ``notes`` lists what the configuration could not do (e.g. a POS filter without parts of
    speech), for the caller to show.
    """

    def __init__(self, lexicon: Lexicon | None = None, pipeline: TextPipeline | None = None, *,
                 chunk_size: int = 20_000):
        self.lexicon = lexicon if lexicon is not None else vader_lexicon()
        self.pipeline = pipeline if pipeline is not None else TextPipeline()
        self.chunk_size = chunk_size
        self.notes: list[str] = []
        self._lemma = _lemmatizer(self.pipeline.language) if self.pipeline.lemmatize else None
        self._pos_mode = None
        if self.pipeline.pos_filter:
            if self.pipeline.tagger is not None:
                self._pos_mode = "tagger"
            elif self.lexicon.has_pos:
                self._pos_mode = "lexicon"
                self.notes.append("part-of-speech filter by the lexicon's senses (no contextual tagger): a word is "
                                  "kept when the lexicon lists it as a noun, adjective or adverb")
            else:
                self.notes.append(f"part-of-speech filter is off: no tagger given and lexicon {self.lexicon.name!r} "
                                  "has no parts of speech; every word is kept")
        self._check_language()
        self._negators = NEGATORS.get(self.pipeline.language, frozenset()) if self.pipeline.negation else frozenset()
        if self.pipeline.negation and not self._negators:
            self.notes.append(f"no negation words known for language {self.pipeline.language!r}: negation is not "
                              "handled")
        self._vocabulary = _Vocabulary()
        self._keys: list[str] = []
        self._features = np.empty((0, _FEATURES))
        self._words: dict[tuple[str, str | None], tuple[int, float, float]] = {}

    def _check_language(self) -> None:
        """Texts are scored only with a lexicon of their language (a false friend such as the
        German article "die", an English VADER entry, would otherwise count as negative)."""
        language, lexicon = self.pipeline.language, self.lexicon
        if lexicon.language is None:
            self.notes.append(f"lexicon {lexicon.name!r} does not name its language: taken to be {language!r} "
                              "(a first line '# language: xx' names it)")
        elif lexicon.language != language:
            raise TextError(
                f"texts in {language!r} cannot be scored with lexicon {lexicon.name!r}, which is "
                f"{lexicon.language!r}: give a lexicon of that language (--lexicon FILE, e.g. SentiWS for German)")

    def is_negator(self, token: str) -> bool:
        """Whether a token (lowercased) negates the next three (VADER's rule)."""
        if not self._negators:
            return False
        token = token.replace("’", "'")
        return token in self._negators or (self.pipeline.language == "en" and token.endswith("n't"))

    # -- one distinct word
    def classify(self, word: str, pos: str | None = None) -> tuple[int, float, float]:
        """(status, negativity, positivity) of one token; status DROPPED, SCORED or NOT_FOUND."""
        pipeline = self.pipeline
        if word in pipeline.stop_words:
            return DROPPED, 0.0, 0.0
        word = _normalise(word)
        if not word or word in pipeline.stop_words:
            return DROPPED, 0.0, 0.0
        if self._pos_mode == "tagger" and pos not in pipeline.keep_pos:
            return DROPPED, 0.0, 0.0
        candidates = [word]
        if self._lemma is not None:
            base = self._lemma(word)
            candidates = [base, word] if pipeline.surface_fallback and base != word else [base]
        for candidate in candidates:
            if self._pos_mode == "lexicon":
                found = self.lexicon.first_of(candidate, pipeline.keep_pos)
                if found is None and candidate in self.lexicon.scores:
                    return DROPPED, 0.0, 0.0  # listed, but only as a part of speech the filter drops
            elif self._pos_mode == "tagger" and self.lexicon.has_pos:
                found = self.lexicon.lookup(candidate, pos)
            else:
                found = self.lexicon.lookup(candidate)
            if found is not None:
                return SCORED, float(found[0]), float(found[1])
        return NOT_FOUND, 0.0, 0.0

    def _chunk_features(self, key: str) -> list[float]:
        if self._pos_mode == "tagger":
            word, pos = key.split("\t", 1)
            pairs = [(word, pos)]
        else:
            pairs = [(word, None) for word in TOKEN_RE.findall(key)]
        row = [float(len(pairs)), 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
        for pair in pairs:
            outcome = self._words.get(pair)
            if outcome is None:
                outcome = self._words[pair] = self.classify(*pair)
            status, negativity, positivity = outcome
            row[1 + [SCORED, NOT_FOUND, DROPPED].index(status)] += 1
            row[4] += negativity
            row[5] += positivity
            row[6] += self.is_negator(pair[0])
        return row

    def _chunk_tokens(self, chunk_id: int) -> list[tuple[float, float, bool]]:
        """(negativity, positivity, negates) of each token of a chunk, in order."""
        key = self._keys[chunk_id]
        if self._pos_mode == "tagger":
            word, pos = key.split("\t", 1)
            pairs = [(word, pos)]
        else:
            pairs = [(word, None) for word in TOKEN_RE.findall(key)]
        return [(*self._words[pair][1:], self.is_negator(pair[0])) for pair in pairs]

    def _negated_sums(self, chunk_ids: np.ndarray) -> tuple[float, float]:
        """Negativity and positivity of one text with VADER's negation rule: each of the three
        tokens before a word that is a negation multiplies its valence by N_SCALAR, i.e. turns
        (negativity, positivity) into 0.74 (positivity, negativity)."""
        tokens = [token for chunk in chunk_ids.tolist() for token in self._chunk_tokens(chunk)]
        negativity = positivity = 0.0
        factor = -N_SCALAR
        for i, (neg, pos, _negates) in enumerate(tokens):
            flips = sum(1 for j in range(max(0, i - 3), i) if tokens[j][2])
            for _ in range(flips):
                neg, pos = factor * pos, factor * neg
            negativity += neg
            positivity += pos
        return negativity, positivity

    def _update_types(self) -> None:
        known = len(self._features)
        if len(self._vocabulary) == known:
            return
        new = list(self._vocabulary)[known:]  # dicts keep insertion order = id order
        self._keys.extend(new)
        rows = np.array([self._chunk_features(key) for key in new], dtype=float).reshape(-1, _FEATURES)
        self._features = np.concatenate([self._features, rows])

    def _chunk_ids(self, texts: Sequence) -> tuple[np.ndarray, np.ndarray]:
        """Chunk ids of the texts' words and, for each id, the position of its text."""
        texts = [text if isinstance(text, str) else "" for text in texts]  # a missing text has no words
        lookup = self._vocabulary.__getitem__
        if self._pos_mode != "tagger":
            # One lower() and split() over the whole batch, texts separated by a sentinel chunk:
            # far fewer Python calls than one split per text.
            joined = f" {_SENTINEL} ".join(texts)
            chunks = (joined.lower() if self.pipeline.lowercase else joined).split()
            if chunks.count(_SENTINEL) == len(texts) - 1:  # else a text holds the sentinel itself
                lookup(_SENTINEL)
                ids = np.fromiter(map(lookup, chunks), dtype=np.int64, count=len(chunks))
                separator = ids == self._vocabulary[_SENTINEL]
                return ids[~separator], np.cumsum(separator)[~separator]
        ids_list: list[int] = []
        lengths: list[int] = []
        tagger = self.pipeline.tagger if self._pos_mode == "tagger" else None
        for text in texts:
            if tagger is not None:
                tokens = tokenize(text, lowercase=self.pipeline.lowercase)
                chunks = [f"{token}\t{tag}" for token, tag in zip(tokens, tagger(tokens), strict=True)]
            else:
                chunks = (text.lower() if self.pipeline.lowercase else text).split()
            lengths.append(len(chunks))
            ids_list.extend(map(lookup, chunks))
        ids = np.fromiter(ids_list, dtype=np.int64, count=len(ids_list))
        return ids, np.repeat(np.arange(len(texts)), lengths)

    def score(self, texts: Iterable) -> TextScores:
        """Score every text, ``chunk_size`` texts at a time (memory grows with the number of
        texts, not of words)."""
        texts = texts if isinstance(texts, Sequence) else list(texts)
        parts = []
        for start in range(0, len(texts), self.chunk_size):
            batch = texts[start:start + self.chunk_size]
            ids, owner = self._chunk_ids(batch)
            self._update_types()
            columns = [np.bincount(owner, weights=self._features[ids, column], minlength=len(batch))
                       for column in range(_FEATURES)]
            negated = np.flatnonzero(columns[6] > 0)
            if negated.size:  # only texts with a negation word take the slower token-by-token path
                starts = np.searchsorted(owner, negated, side="left")
                ends = np.searchsorted(owner, negated, side="right")
                for text, start, end in zip(negated.tolist(), starts.tolist(), ends.tolist(), strict=True):
                    columns[4][text], columns[5][text] = self._negated_sums(ids[start:end])
            parts.append(columns)
        if not parts:
            return TextScores(*(np.empty(0, dtype=np.int64) if c < 4 else np.empty(0) for c in range(6)))
        columns = [np.concatenate(column) for column in zip(*parts, strict=True)]
        counts = [np.rint(column).astype(np.int64) for column in columns[:4]]
        return TextScores(counts[0], counts[1], counts[2], counts[3], columns[4], columns[5])

    @property
    def vocabulary_size(self) -> int:
        """Distinct words seen so far."""
        return len(self._words)


# --------------------------------------------------------------------------- indices


def text_negativity(negativity, scored) -> float:
    """Pooled ratio: total negativity / total scored words (NaN without a scored word)."""
    total = float(np.sum(scored))
    return float(np.sum(negativity)) / total if total > 0 else math.nan


def text_negativity_mean(negativity, scored) -> float:
    """Mean over texts with a scored word of negativity / scored words (NaN when there is none)."""
    negativity, scored = np.asarray(negativity, dtype=float), np.asarray(scored, dtype=float)
    has = scored > 0
    if not has.any():
        return math.nan
    return float(np.mean(negativity[has] / scored[has]))


def _statistic(sums):
    # sums (..., 4): total negativity, total scored, sum of per-text ratios, texts with a ratio
    with np.errstate(invalid="ignore", divide="ignore"):
        pooled = np.where(sums[..., 1] > 0, sums[..., 0] / sums[..., 1], np.nan)
        mean = np.where(sums[..., 3] > 0, sums[..., 2] / sums[..., 3], np.nan)
    return {"text_negativity": pooled, "text_negativity_mean": mean}


def text_indices(negativity, scored, *, bootstrap: int = 1000, seed=0, level: float = DEFAULT_LEVEL) -> list[dict]:
    """Both text indices of one set of texts with percentile bootstrap intervals resampling texts
    (one text per participant and wave in a survey, so this resamples participants). Records
    ``{index, value, ci_low, ci_high}``."""
    negativity = np.asarray(negativity, dtype=float)
    scored = np.asarray(scored, dtype=float)
    has = scored > 0
    features = np.column_stack([negativity, scored, np.where(has, negativity / np.maximum(scored, 1), 0.0),
                                has.astype(float)])
    observed = _statistic(features.sum(axis=0))
    if bootstrap and len(features):
        intervals = bootstrap_participants(features, _statistic, n_resamples=bootstrap, level=level, seed=seed)
    else:
        intervals = {name: (math.nan, math.nan) for name in TEXT_INDICES}
    return [{"index": name, "value": float(observed[name]), "ci_low": float(intervals[name][0]),
             "ci_high": float(intervals[name][1])} for name in TEXT_INDICES]


def period_labels(dates: pd.Series, period: str) -> pd.Series:
    """Bucket timestamps: ``year`` -> ``2021``, ``month`` -> ``2021-03``, ``week`` -> the ISO date
    of the week's Monday (``2021-03-01``), the labels ``correlate`` reads."""
    dates = pd.Series(dates)
    if not pd.api.types.is_datetime64_any_dtype(dates):
        dates = pd.to_datetime(dates, format="ISO8601")
    if period == "year":
        return dates.dt.year.astype(str)
    if period == "month":
        return dates.dt.strftime("%Y-%m")
    if period == "week":
        monday = dates.dt.normalize() - pd.to_timedelta(dates.dt.day_of_week, unit="D")
        return monday.dt.strftime("%Y-%m-%d")
    raise TextError(f"unknown period {period!r}: use one of {', '.join(PERIODS)}")


SERIES_COLUMNS = ("period", "group", "value", "ci_low", "ci_high", "text_negativity_mean", "mean_ci_low",
                  "mean_ci_high", "positivity", "texts", "tokens", "scored", "not_found", "dropped")


def text_series(scores: TextScores, periods: Sequence, groups: Sequence | None = None, *, bootstrap: int = 1000,
                seed: int = 0, level: float = DEFAULT_LEVEL) -> pd.DataFrame:
    """One row per (period, group): ``value`` = text_negativity (pooled) with its interval,
    text_negativity_mean with its interval, pooled positivity and the counts. Periods sorted;
    group ``all`` first, then each group of ``groups`` (when given)."""
    frame = scores.frame()
    frame["period"] = np.asarray(periods, dtype=object)
    keys = [(group_keys.ALL, slice(None))]
    if groups is not None:
        frame["group"] = np.asarray(groups, dtype=object)
        named = sorted({g for g in frame["group"] if isinstance(g, str) and g})
        keys += [(g, g) for g in named]
    rows = []
    rng = np.random.default_rng(seed)
    for period, in_period in frame.groupby("period", sort=True):
        for group, selector in keys:
            cell = in_period if group == group_keys.ALL else in_period[in_period["group"] == selector]
            if cell.empty:
                continue
            neg, scored = cell["negativity"].to_numpy(), cell["scored"].to_numpy()
            found = {r["index"]: r for r in text_indices(neg, scored, bootstrap=bootstrap, seed=rng, level=level)}
            pooled, mean = found["text_negativity"], found["text_negativity_mean"]
            rows.append({
                "period": period, "group": group, "value": pooled["value"], "ci_low": pooled["ci_low"],
                "ci_high": pooled["ci_high"], "text_negativity_mean": mean["value"], "mean_ci_low": mean["ci_low"],
                "mean_ci_high": mean["ci_high"],
                "positivity": text_negativity(cell["positivity"].to_numpy(), scored),
                "texts": len(cell), "tokens": int(cell["tokens"].sum()), "scored": int(scored.sum()),
                "not_found": int(cell["not_found"].sum()), "dropped": int(cell["dropped"].sum()),
            })
    return pd.DataFrame(rows, columns=list(SERIES_COLUMNS))

