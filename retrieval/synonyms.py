"""The editors' synonym list (``kb/synonyms.yml``) as search tokens.

Every occurrence of a listed word or phrase, in a query or a document, also yields a token
naming its group, so "Kennwort" in a question meets "Passwort" in a guide.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from retrieval.text import fold, stems


@dataclass(frozen=True)
class SynonymIndex:
    pattern: re.Pattern[str] | None
    group_of: dict[str, int]
    groups: tuple[tuple[str, ...], ...]

    @classmethod
    def load(cls, path: Path) -> SynonymIndex:
        if not path.exists():
            return cls(None, {}, ())
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        groups = tuple(tuple(str(t) for t in g) for g in data.get("groups", []) if g)
        return cls.from_groups(groups)

    @classmethod
    def from_groups(cls, groups: tuple[tuple[str, ...], ...]) -> SynonymIndex:
        group_of: dict[str, int] = {}
        for index, group in enumerate(groups):
            for phrase in group:
                key = _phrase_key(phrase)
                if key:
                    group_of.setdefault(key, index)
        if not group_of:
            return cls(None, {}, groups)
        # Longest phrases first so "zwei faktor authentifizierung" wins over "authentifizierung".
        alternatives = sorted(group_of, key=len, reverse=True)
        body = "|".join(re.escape(a).replace(r"\ ", r"\s+") for a in alternatives)
        return cls(re.compile(rf"(?<![0-9a-z])(?:{body})(?![0-9a-z])"), group_of, groups)

    def tokens(self, folded: str) -> list[str]:
        """One ``syn<group>`` token per phrase occurrence in already folded text."""
        if self.pattern is None:
            return []
        stemmed = " ".join(stems(folded.replace("-", " ")))
        found = []
        for match in self.pattern.finditer(stemmed):
            key = re.sub(r"\s+", " ", match.group(0))
            found.append(f"syn{self.group_of[key]}")
        return found


def _phrase_key(phrase: str) -> str:
    """Phrases are matched on stems, so "gelöscht"/"löschen" and plurals meet."""
    return " ".join(stems(fold(phrase).replace("-", " ")))
