"""Fictional and excusing frames ("for a movie", "as a role-play", "it's fine because it's art",
"pour un film", "c'est de l'art") around a request. The engine scores a framed text twice, as
written and without its frame, and keeps the higher score: a frame never lowers a score. Rules
match the whole text either way.
"""

from __future__ import annotations

import re

_FRAMES = [
    # en
    r"(?:this is |it'?s |just )?(?:for|in) (?:a|an|my|our|the) (?:\w+ ){0,2}"
    r"(?:movie|film|short|music video|video clip|school project|project|class|documentary|"
    r"art project|art piece|novel|story|book|game|video game|tv show|series|play|sketch|parody|"
    r"satire|horror movie|thriller|research|study|training data|dataset)",
    r"(?:as|in) (?:a )?role[- ]?play",
    r"role[- ]?play(?:ing)?",
    r"let'?s (?:pretend|imagine|role[- ]?play)",
    r"pretend (?:that|you are|you'?re|it'?s)",
    r"imagine (?:that|a world where)",
    r"hypothetically(?: speaking)?",
    r"(?:it'?s|its|it is|this is) (?:totally |completely |perfectly )?"
    r"(?:fine|ok|okay|allowed|legal|harmless|acceptable|not real)"
    r"(?: (?:because|since|as)[^,.;:!?]*)?",
    r"(?:it'?s|this is) (?:just |only |purely )?(?:fiction|fictional|art|a joke|satire|a parody|"
    r"for fun|pretend|make[- ]believe|a prank|cgi|ai)",
    r"(?:just|only) (?:kidding|joking|for fun|a joke|pretend)",
    r"purely fictional",
    r"for (?:educational|research|artistic|scientific|awareness) (?:purposes|reasons)",
    r"no one (?:will|would) get hurt",
    r"(?:all|everyone|the (?:actors?|characters?|girls?|models?)) (?:are|is) "
    r"(?:adults?|over 18|18\+)",
    # fr
    r"(?:c'est )?pour (?:un|une|mon|ma|notre) (?:\w+ ){0,2}(?:film|court[- ]metrage|clip|projet|"
    r"jeu|jeu video|roman|histoire|documentaire|serie|piece|sketch|parodie|cours|etude|recherche)",
    r"(?:en |dans un )?jeu de role",
    r"(?:c'est|ce n'est|c'est juste|c'est que) (?:de l'art|pour rire|de la fiction|fictif|"
    r"une blague|pour de faux|pas reel|pas pour de vrai|une parodie|de la satire)",
    r"(?:c'est|ca va|c'est bon|c'est ok|c'est autorise|c'est legal) "
    r"(?:bon |ok |autorise |legal )?(?:car|parce que|puisque)[^,.;:!?]*",
    r"pour de faux",
    r"imagine (?:que|un monde ou)",
    r"fais comme si",
    r"(?:a|dans un) but (?:educatif|pedagogique|artistique)",
    r"(?:toutes|tous|les actrices|les acteurs|les personnages) (?:sont|ont) (?:majeures?|majeurs|"
    r"adultes|plus de 18 ans)",
]
_FRAME = re.compile(r"\b(?:" + "|".join(_FRAMES) + r")\b", re.IGNORECASE)
_EDGES = re.compile(r"^[\s:,.;!?()\-\u2013\u2014]+|[\s:,.;!?()\-\u2013\u2014]+$")
_SPACES = re.compile(r"\s+")
_ACCENTS = str.maketrans("àâäéèêëîïôöùûüçÀÂÄÉÈÊËÎÏÔÖÙÛÜÇ", "aaaeeeeiioouuucAAAEEEEIIOOUUUC")


def strip_framing(text: str) -> str | None:
    """The text without its frame(s), or None when it has none (or nothing else is left)."""
    plain = text.translate(_ACCENTS)  # same length: offsets of `plain` are offsets of `text`
    spans = [m.span() for m in _FRAME.finditer(plain)]
    if not spans:
        return None
    kept, last = [], 0
    for start, end in spans:
        kept.append(text[last:start])
        last = end
    kept.append(text[last:])
    pieces = [_EDGES.sub("", piece) for piece in kept]
    rest = _SPACES.sub(" ", " ".join(p for p in pieces if p)).strip()
    return rest or None
