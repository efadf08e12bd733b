"""The language of a question: the model reads English only, so a question in another language is
told so, rather than answered from passages that only look alike or told "not covered".

Detection is py3langid (a naive Bayes model over byte n-grams, shipped inside the package: no
download), limited to widely used languages and trusted only when it is sure and the question has
a few words: terse English queries ("dublin transfer time limit") and names must never be refused.
"""

from __future__ import annotations

import threading

#: languages the detector chooses among (ISO 639-1)
LANGUAGES = ("en", "fr", "de", "es", "it", "pt", "nl", "pl", "ro", "el", "sv", "da", "fi", "cs", "hu",
             "ru", "uk", "tr", "ar", "fa", "ur", "zh", "ja", "ko", "hi", "am", "sw")
NAMES = {"fr": "French", "de": "German", "es": "Spanish", "it": "Italian", "pt": "Portuguese", "nl": "Dutch",
         "pl": "Polish", "ro": "Romanian", "el": "Greek", "sv": "Swedish", "da": "Danish", "fi": "Finnish",
         "cs": "Czech", "hu": "Hungarian", "ru": "Russian", "uk": "Ukrainian", "tr": "Turkish", "ar": "Arabic",
         "fa": "Persian", "ur": "Urdu", "zh": "Chinese", "ja": "Japanese", "ko": "Korean", "hi": "Hindi",
         "am": "Amharic", "sw": "Swahili"}
#: the detector's probability above which a question counts as written in another language
MIN_PROBABILITY = 0.8
#: fewer words than this are never judged (names, acronyms, terse keyword queries)
MIN_WORDS = 4

_identifier = None
_lock = threading.Lock()


def _detector():
    global _identifier
    with _lock:
        if _identifier is None:
            from py3langid.langid import MODEL_FILE, LanguageIdentifier

            identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
            identifier.set_languages(list(LANGUAGES))
            _identifier = identifier
        return _identifier


def other_language(question: str) -> str | None:
    """The name of the language a question is written in when it is surely not English, else None."""
    words = question.split()
    if len(words) < MIN_WORDS and not any(ord(c) > 0x2FF for c in question):
        return None
    try:
        detector = _detector()
    except Exception:
        return None
    with _lock:
        code, probability = detector.classify(" ".join(words)[:500])
    if code == "en" or probability < MIN_PROBABILITY:
        return None
    return NAMES.get(code, code)
