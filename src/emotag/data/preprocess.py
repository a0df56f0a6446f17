"""Text as it comes outside Reddit: emoji, emoticons, @users, URLs, hashtags, elongations.

Why: the MiniLM and mpnet vocabularies map most emoji to ``[UNK]``, so ``"😭😭"`` reads as
nothing, and tweets, support chats and dialogue carry @mentions, links, hashtags and
``soooo``. :class:`Preprocessing` rewrites such text into words the encoder knows
(``"😭"`` -> ``"loudly crying face"``, ``":)"`` -> ``"smiling face"``), the same way in training
and at inference: a model folder records its settings in ``emotag.json`` and
:class:`~emotag.inference.predictor.Predictor` applies them before scoring.

Every step is off by default; ``Preprocessing.social()`` turns on the set measured in
docs/results.md ("Out-of-domain transfer"). Casing is left alone: the shipped encoders are
uncased, and TF-IDF lower-cases.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError

#: Emoticons read as the words an annotator would use; longest first so ":'(" wins over ":(".
EMOTICONS = {
    ":'(": "crying face", ":'-(": "crying face", ":-)": "smiling face", ":)": "smiling face",
    "(:": "smiling face", ":-(": "frowning face", ":(": "frowning face", "):": "frowning face",
    ":-D": "grinning face", ":D": "grinning face", "xD": "laughing face", "XD": "laughing face",
    ";-)": "winking face", ";)": "winking face", ":-P": "face with tongue",
    ":P": "face with tongue", ":p": "face with tongue", ":-/": "confused face",
    ":/": "confused face", ":-|": "neutral face", ":|": "neutral face", "<3": "red heart",
    "</3": "broken heart", ":O": "surprised face", ":o": "surprised face",
    ":-O": "surprised face", "D:": "anguished face",
}
_EMOTICON_RE = re.compile(
    r"(?<![\w:;])(" + "|".join(re.escape(e) for e in sorted(EMOTICONS, key=len, reverse=True))
    + r")(?![\w])")
_USER_RE = re.compile(r"(?<![\w@])@\w{1,30}")
_URL_RE = re.compile(r"\b(?:https?://|www\.)\S+", re.IGNORECASE)
_HASHTAG_RE = re.compile(r"(?<![\w#])#(\w+)")
_CAMEL_RE = re.compile(r"(?<=[a-z])(?=[A-Z])")
_ELONGATION_RE = re.compile(r"(\w)\1{2,}")
_SPACES_RE = re.compile(r"[ \t]{2,}")


@dataclass(frozen=True)
class Preprocessing:
    """Which rewrites to apply; saved with a model, applied in training and inference."""

    emoji: bool = False
    """Emoji and emoticons become their names (the ``emoji`` package's, ``_`` as spaces)."""
    users: bool = False
    """``@name`` becomes ``@user`` (the name carries no emotion, only noise)."""
    urls: bool = False
    """Links become ``http``."""
    hashtags: bool = False
    """``#SoHappy`` becomes ``So Happy`` (the ``#`` dropped, camel case split)."""
    elongation: bool = False
    """Three or more repeats of a character become two (``soooo`` -> ``soo``)."""

    @classmethod
    def social(cls) -> Preprocessing:
        """Every rewrite on: the setting for tweets, chats and other non-Reddit text."""
        return cls(emoji=True, users=True, urls=True, hashtags=True, elongation=True)

    @property
    def active(self) -> bool:
        return any(dataclasses.astuple(self))

    def to_dict(self) -> dict[str, bool]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any] | None) -> Preprocessing:
        """From a manifest or config mapping; unknown keys and non-booleans are errors."""
        raw = dict(raw or {})
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(raw) - names)
        if unknown:
            raise ConfigError(f"preprocessing: unknown key(s) {unknown}; valid keys: "
                              f"{sorted(names)}")
        bad = [k for k, v in raw.items() if not isinstance(v, bool)]
        if bad:
            raise ConfigError(f"preprocessing: {bad} must be true or false")
        return cls(**raw)

    def __call__(self, texts: Sequence[str]) -> list[str]:
        if not self.active:
            return list(texts)
        return [self.apply(t) for t in texts]

    def apply(self, text: str) -> str:
        """One text, rewritten."""
        if self.urls:
            text = _URL_RE.sub("http", text)
        if self.users:
            text = _USER_RE.sub("@user", text)
        if self.hashtags:
            text = _HASHTAG_RE.sub(lambda m: _CAMEL_RE.sub(" ", m.group(1)), text)
        if self.emoji:
            text = _EMOTICON_RE.sub(lambda m: f" {EMOTICONS[m.group(1)]} ", text)
            text = _demojize(text)
        if self.elongation:
            text = _ELONGATION_RE.sub(r"\1\1", text)
        if text != text.strip() or "  " in text:
            text = _SPACES_RE.sub(" ", text).strip()
        return text


#: The settings a config names (``model.preprocessing``).
PRESETS = {"none": Preprocessing(), "emoji": Preprocessing(emoji=True),
           "social": Preprocessing.social()}


def _demojize(text: str) -> str:
    if text.isascii():
        return text
    import emoji

    return emoji.replace_emoji(text, replace=lambda e, data: " " + data["en"].strip(":")
                               .replace("_", " ") + " ")
