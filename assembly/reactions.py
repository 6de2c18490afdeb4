"""Every area's reactions to events, in one list: the reactions worker runs them (its consumer
group reads the topics they react to)."""

from __future__ import annotations

from cameoguard.contracts import Reaction
from consumers import aggregator
from consumers.feed_policy import feed_policy
from generator import reactions as generator_reactions
from rights import matches as rights_matches
from rights import notify as rights_notify
from rights import reactions as rights_reactions
from wellbeing import rating as wellbeing_rating

REACTIONS_GROUP = "reactions"


def all_reactions() -> list[Reaction]:
    return [
        *aggregator.reactions(feed_policy()),
        *generator_reactions.reactions(),
        *wellbeing_rating.reactions(),
        *rights_notify.reactions(),
        *rights_matches.reactions(),
        *rights_reactions.reactions(),
    ]


def consumer_groups() -> dict[str, list[str]]:
    """Every consumer group of the deployment and the topics it reads (logical names)."""
    from consumers.groups import scoring_groups
    from consumers.runner import reaction_topics

    return {**scoring_groups(), REACTIONS_GROUP: reaction_topics(all_reactions())}
