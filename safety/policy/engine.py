"""The prompt and text decision: normalise -> rules -> classifier -> thresholds -> decision.

Category scores come from the classifier heads (mapped below), raised to the floor of any rule
that signals the category; a `block` or `review` rule forces that outcome. Thresholds come from
the pack, the strictest of the sets that apply (default, generation prompt, teen account, cameo in
the prompt). A category's `model_action` caps what the classifier alone can do there (the
misinformation head asks for review; a rule blocks); a threshold set can override it (the
strictest set that applies wins: teens and cameos let the sexual head block).
A classifier that cannot run raises; callers turn that into an error, never into `allow`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from safety.policy.batcher import MicroBatcher
from safety.policy.classifier import TextClassifier
from safety.policy.framing import strip_framing
from safety.policy.language import detect_language
from safety.policy.normalize import NormalizedText, normalize
from safety.policy.pack import (
    ACTION_RANK,
    CATEGORIES,
    POLICIES_DIR,
    CategoryPolicy,
    PackStore,
    PolicyPack,
    Thresholds,
)
from safety.policy.rules import RuleHit, RuleSet

log = logging.getLogger("cameoguard.policy")

AgeGroup = Literal["adult", "teen", "unknown"]
Purpose = Literal["generation", "caption", "comment"]

# How each category's score is made from the classifier heads (probabilities).
HEAD_MAP: dict[str, Callable[[dict[str, float]], float]] = {
    "sexual": lambda h: h["sexual"],
    "sexual/minors": lambda h: h["sexual_minors"],
    "harassment": lambda h: h["harassment"],
    "harassment/threatening": lambda h: min(h["threatening"], max(h["harassment"], h["hate"])),
    "hate": lambda h: h["hate"],
    "hate/threatening": lambda h: min(h["threatening"], h["hate"]),
    "illicit": lambda h: h["illicit"],
    "illicit/violent": lambda h: min(h["illicit"], h["violence"]),
    "self-harm": lambda h: h["self_harm"],
    # Intent and instructions are told apart by curated patterns only (too few labelled examples).
    "self-harm/intent": lambda h: 0.0,
    "self-harm/instructions": lambda h: 0.0,
    "violence": lambda h: h["violence"],
    "violence/graphic": lambda h: h["violence_graphic"],
    "real_person": lambda h: h["real_person"],
    "misinformation": lambda h: h["misinformation"],
    # Counted fully only next to an election term (the pack's gate).
    "misinformation/elections": lambda h: h["misinformation"],
    "impersonation": lambda h: 0.0,
}
assert set(HEAD_MAP) == set(CATEGORIES)


@dataclass(frozen=True)
class CheckContext:
    age_group: AgeGroup = "adult"
    uses_cameo: bool = False
    purpose: Purpose = "generation"
    language: str | None = None
    # Who asks: an opt-in likeness claim's names are allowed to the accounts it licenses.
    requester_id: str | None = None


@dataclass
class CategoryResult:
    score: float
    model_score: float
    thresholds: dict[str, float]
    threshold_set: str
    action: str
    rules: list[str] = field(default_factory=list)
    applies: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "model_score": self.model_score,
            "thresholds": dict(self.thresholds),
            "threshold_set": self.threshold_set,
            "action": self.action,
            "rules": list(self.rules),
            "applies": self.applies,
        }


@dataclass
class Decision:
    action: str
    flagged: list[str]
    categories: dict[str, CategoryResult]
    rules: list[dict[str, Any]]
    escalations: list[str]
    reasons: list[str]
    pack: str
    model: str
    language: str
    obfuscated: bool
    # A fictional or excusing frame ("for a movie", "role-play", "it's fine because") was found;
    # the text was also scored without it, and the higher score kept.
    framed: bool = False
    # Help the platform can show (self-harm): {"locale", "message", "resources": [...]}, or None.
    support: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON (written out: `dataclasses.asdict` deep-copies every value and
        was a measurable part of a check's time)."""
        return {
            "action": self.action,
            "flagged": list(self.flagged),
            "categories": {name: result.to_dict() for name, result in self.categories.items()},
            "rules": [dict(rule) for rule in self.rules],
            "escalations": list(self.escalations),
            "reasons": list(self.reasons),
            "pack": self.pack,
            "model": self.model,
            "language": self.language,
            "obfuscated": self.obfuscated,
            "framed": self.framed,
            "support": self.support,
        }


def _strictest(policy: CategoryPolicy, context: CheckContext) -> tuple[Thresholds, str, str]:
    """The lowest review and block lines of the sets that apply, their names, and what the
    model alone may do there (a set's `model_action`, else the category's; the most wins)."""
    sets: list[tuple[Thresholds, str]] = [(policy.thresholds, "default")]
    if context.purpose == "generation" and policy.generation is not None:
        sets.append((policy.generation, "generation"))
    if context.age_group in ("teen", "unknown") and policy.teen is not None:
        sets.append((policy.teen, "teen"))
    if context.uses_cameo and policy.cameo is not None:
        sets.append((policy.cameo, "cameo"))
    review = min(t.review for t, _ in sets)
    block = min(t.block for t, _ in sets)
    model_cap = max(
        (t.model_action or policy.model_action for t, _ in sets), key=ACTION_RANK.__getitem__
    )
    names = "+".join(name for _, name in sets) if len(sets) > 1 else sets[0][1]
    return Thresholds(review=review, block=block), names, model_cap


def _cap(action: str, strongest: str) -> str:
    return action if ACTION_RANK[action] <= ACTION_RANK[strongest] else strongest


def _by_score(score: float, thresholds: Thresholds) -> str:
    if score >= thresholds.block:
        return "block"
    return "review" if score >= thresholds.review else "allow"


@dataclass(frozen=True)
class TextFacts:
    """What the text alone says, before the classifier: its normalised forms, the forms the
    classifier reads (the highest score is kept), whether a frame was stripped, the rules and
    term groups it matches, its language. A pure function of the text and the rules
    (`read_text`), so that it can be computed in another process for long texts."""

    normalized: NormalizedText
    forms: tuple[str, ...]
    framed: bool
    hits: tuple[RuleHit, ...]
    groups: dict[str, tuple[str, ...]]
    language: str


def read_text(text: str, rules: RuleSet) -> TextFacts:
    """Normalises `text` (raises InvalidText on bad input) and matches the rules. The classifier
    reads the cleaned text, the deobfuscated form when they differ, and the text without a
    fictional or excusing frame when it has one: a frame never lowers a score."""
    n = normalize(text)
    forms = [n.base or " "]
    if n.obfuscated:
        forms.append(n.folded)
    unframed = strip_framing(n.base)
    if unframed is not None:
        forms.append(unframed)
    hits, groups = rules.match(n)
    return TextFacts(
        normalized=n,
        forms=tuple(forms),
        framed=unframed is not None,
        hits=tuple(hits),
        groups=groups,
        language=detect_language(n.base),
    )


def classifier_inputs(facts: list[TextFacts]) -> tuple[list[str], list[tuple[int, ...]]]:
    """Every form the classifier reads, and for each text the positions of its forms."""
    inputs: list[str] = []
    index: list[tuple[int, ...]] = []
    for f in facts:
        index.append(tuple(range(len(inputs), len(inputs) + len(f.forms))))
        inputs.extend(f.forms)
    return inputs, index


MODEL_TIMEOUT_S = 30.0  # a model call that takes longer is an error (fail closed), not a wait


def with_names(pack: PolicyPack, names: tuple[str, ...]) -> PolicyPack:
    """The pack with `names` added to its public figures (the named-person rules' term group)."""
    if not names or "public_figures" not in pack.term_groups:
        return pack
    groups = dict(pack.term_groups)
    groups["public_figures"] = [*groups["public_figures"], *names]
    return pack.model_copy(update={"term_groups": groups})


class PolicyEngine:
    """Holds the active pack, its compiled rules and the classifier."""

    def __init__(
        self,
        store: PackStore,
        classifier: TextClassifier,
        predict: Callable[[list[str]], list[dict[str, float]]] | None = None,
    ) -> None:
        self.store = store
        self.classifier = classifier
        self.predict = predict or classifier.predict
        self._rules = RuleSet(store.pack)
        self._lock = threading.Lock()
        # Names beyond the pack's public figures (accepted likeness claims): the assembly's
        # engine reads them from the database (safety.policy.named_people).
        self.names_source: Callable[[], tuple[str, ...]] | None = None
        self._names: tuple[str, ...] = ()
        # Opt-in names' licences (name in lower case -> accounts), and the rules built without
        # the names licensed to an account (a few distinct sets, built once each).
        self.licences_source: Callable[[], dict[str, frozenset[str]]] | None = None
        self._licences: dict[str, frozenset[str]] = {}
        self._licensed_rules: dict[frozenset[str], RuleSet] = {}

    @property
    def pack(self) -> PolicyPack:
        return self.store.pack

    def reload_pack(self) -> PolicyPack:
        """Loads the pack file again; on error the old pack stays active and the error is raised."""
        pack = self.store.reload()
        rules = RuleSet(with_names(pack, self._names))
        with self._lock:
            self._rules = rules
            self._licensed_rules = {}
        return pack

    def _refresh_names(self) -> None:
        if self.licences_source is not None:
            licences = self.licences_source()
            if licences != self._licences:
                with self._lock:
                    self._licences = licences
        if self.names_source is None:
            return
        names = self.names_source()
        if names == self._names:
            return
        rules = RuleSet(with_names(self.store.pack, names))
        with self._lock:
            self._rules, self._names, self._licensed_rules = rules, names, {}

    def check(self, text: str, context: CheckContext | None = None) -> Decision:
        return self.check_many([text], context)[0]

    @property
    def rules(self) -> RuleSet:
        """The compiled rules in force (the pack's, with the accepted claims' names)."""
        self._refresh_names()
        with self._lock:
            return self._rules

    def rules_for(self, requester_id: str | None) -> RuleSet:
        """The rules in force for a requester: without the added names an opt-in claim
        licenses to them (everyone else, and an unnamed requester, gets every name)."""
        rules = self.rules
        with self._lock:
            names, licences = self._names, self._licences
        if requester_id is None or not licences:
            return rules
        licensed = frozenset(
            n for n in names if requester_id in licences.get(n.lower(), frozenset())
        )
        if not licensed:
            return rules
        with self._lock:
            cached = self._licensed_rules.get(licensed)
        if cached is None:
            kept = tuple(n for n in names if n not in licensed)
            cached = RuleSet(with_names(self.store.pack, kept))
            with self._lock:
                if len(self._licensed_rules) >= 64:
                    self._licensed_rules.clear()
                self._licensed_rules[licensed] = cached
        return cached

    def read_texts(self, texts: list[str], requester_id: str | None = None) -> list[TextFacts]:
        rules = self.rules_for(requester_id)
        return [read_text(t, rules) for t in texts]

    def check_many(self, texts: list[str], context: CheckContext | None = None) -> list[Decision]:
        requester = context.requester_id if context else None
        return self.decide(self.read_texts(texts, requester), context)

    def decide(self, facts: list[TextFacts], context: CheckContext | None = None) -> list[Decision]:
        """Decisions for texts already read (`read_texts`, or `read_text` in another process)."""
        inputs, index = classifier_inputs(facts)
        return self._finish(facts, index, self.predict(inputs), context or CheckContext())

    async def check_many_async(
        self, texts: list[str], context: CheckContext | None = None
    ) -> list[Decision]:
        """`check_many` for an event loop (short texts: reading them here is cheap)."""
        requester = context.requester_id if context else None
        return await self.decide_async(self.read_texts(texts, requester), context)

    async def decide_async(
        self, facts: list[TextFacts], context: CheckContext | None = None
    ) -> list[Decision]:
        """`decide` for an event loop: the model call is awaited, not waited for in a thread
        (the micro-batcher's future when there is one, else a worker thread)."""
        inputs, index = classifier_inputs(facts)
        submit = getattr(self.predict, "submit", None)
        if submit is not None:
            predictions = await asyncio.wait_for(
                asyncio.wrap_future(submit(inputs)), MODEL_TIMEOUT_S
            )
        else:
            predictions = await asyncio.to_thread(self.predict, inputs)
        return self._finish(facts, index, predictions, context or CheckContext())

    def _finish(
        self,
        facts: list[TextFacts],
        index: list[tuple[int, ...]],
        predictions: list[dict[str, float]],
        context: CheckContext,
    ) -> list[Decision]:
        pack = self.store.pack
        decisions = []
        for fact, forms in zip(facts, index, strict=True):
            heads = dict(predictions[forms[0]])
            for other in forms[1:]:
                heads = {k: max(v, predictions[other][k]) for k, v in heads.items()}
            decision = self._decide(fact, heads, pack, context)
            decision.framed = fact.framed
            decisions.append(decision)
        return decisions

    def _decide(
        self, fact: TextFacts, heads: dict[str, float], pack: PolicyPack, context: CheckContext
    ) -> Decision:
        text, hits, groups = fact.normalized, fact.hits, fact.groups
        by_category: dict[str, list[RuleHit]] = {}
        for hit in hits:
            by_category.setdefault(hit.category, []).append(hit)
        gates = {gate.category: gate for gate in pack.gates}
        categories: dict[str, CategoryResult] = {}
        reasons: list[str] = []
        for name in CATEGORIES:
            policy = pack.categories[name]
            model_score = float(HEAD_MAP[name](heads))
            gate = gates.get(name)
            if gate is not None and gate.group not in groups:
                model_score *= gate.otherwise
            for damper in pack.dampers:
                if damper.category != name:
                    continue
                if damper.when in groups and damper.unless not in groups:
                    model_score *= damper.factor
            thresholds, threshold_set, model_cap = _strictest(policy, context)
            category_hits = by_category.get(name, [])
            applies = context.purpose in policy.applies_to
            signal = max((h.score for h in category_hits if h.effect == "signal"), default=0.0)
            score = max(model_score, signal)
            by_model = _by_score(model_score, thresholds)
            action = max(
                _cap(by_model, model_cap),
                _by_score(signal, thresholds),
                key=ACTION_RANK.__getitem__,
            )
            for hit in category_hits:
                if (
                    hit.effect in ("block", "review")
                    and ACTION_RANK[hit.effect] > ACTION_RANK[action]
                ):
                    action = hit.effect
                    score = max(
                        score, thresholds.block if hit.effect == "block" else thresholds.review
                    )
            action = _cap(action, policy.action) if applies else "allow"
            categories[name] = CategoryResult(
                score=round(score, 4),
                model_score=round(model_score, 4),
                thresholds={"review": thresholds.review, "block": thresholds.block},
                threshold_set=threshold_set,
                action=action,
                rules=[h.rule_id for h in category_hits],
                applies=applies,
            )
            if action != "allow":
                source = f"rules {', '.join(categories[name].rules)}" if category_hits else "model"
                if ACTION_RANK[model_cap] < ACTION_RANK[by_model]:
                    source += f"; the model alone can at most {model_cap}"
                reasons.append(
                    f"{name}: {action} (score {score:.2f} vs review {thresholds.review:.2f} / "
                    f"block {thresholds.block:.2f}, {threshold_set} thresholds; {source})"
                )
        escalations = []
        action = max((c.action for c in categories.values()), key=ACTION_RANK.__getitem__)
        for escalation in pack.escalations:
            if all(categories[c].action != "allow" for c in escalation.when):
                escalations.append(escalation.id)
                reasons.append(f"escalation {escalation.id}: {' + '.join(escalation.when)}")
                if ACTION_RANK[escalation.action] > ACTION_RANK[action]:
                    action = escalation.action
        flagged = [name for name, result in categories.items() if result.action != "allow"]
        language = context.language or fact.language
        return Decision(
            action=action,
            flagged=flagged,
            categories=categories,
            rules=[
                {
                    "id": h.rule_id,
                    "category": h.category,
                    "effect": h.effect,
                    "matched": list(h.matched),
                }
                for h in hits
            ],
            escalations=escalations,
            reasons=reasons,
            pack=pack.ref,
            model=self.classifier.version,
            language=language,
            obfuscated=text.obfuscated,
            support=_support(pack, categories, language),
        )


def _support(
    pack: PolicyPack, categories: dict[str, CategoryResult], language: str
) -> dict[str, Any] | None:
    """The pack's support resources in the text's language, when a category that calls for
    them (self-harm) is not allowed, or reached its review threshold where it does not apply."""
    support = pack.support_resources
    if support is None:
        return None
    if not any(
        categories[c].action != "allow" or categories[c].score >= categories[c].thresholds["review"]
        for c in support.categories
    ):
        return None
    locale = language if language in support.locales else support.default_locale
    return {
        "locale": locale,
        "message": support.message[locale].strip(),
        "resources": [r.model_dump(exclude_none=True) for r in support.locales[locale]],
    }


_engine: PolicyEngine | None = None
_engine_lock = threading.Lock()


def default_pack_path() -> Path:
    return POLICIES_DIR / "default.yaml"


def get_engine() -> PolicyEngine:
    """The process-wide engine, loaded on first use (the model takes a few seconds)."""
    global _engine
    with _engine_lock:
        if _engine is None:
            from cameoguard.settings import get_settings

            settings = get_settings()
            pack_path = settings.policy_pack or default_pack_path()
            classifier = TextClassifier.load(threads=settings.model_threads)
            batcher = MicroBatcher(classifier.predict, workers=settings.model_workers)
            _engine = PolicyEngine(PackStore(Path(pack_path)), classifier, batcher)
            from safety.policy.named_people import current_licences, current_names

            _engine.names_source = current_names
            _engine.licences_source = current_licences
            log.info("policy engine ready", extra={"pack": _engine.pack.ref})
        return _engine


def current_engine() -> PolicyEngine | None:
    return _engine


def set_engine(engine: PolicyEngine | None) -> None:
    """Replace the process-wide engine (tests inject a failing one to prove fail-closed)."""
    global _engine
    with _engine_lock:
        _engine = engine
