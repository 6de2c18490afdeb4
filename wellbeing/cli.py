"""The wellbeing commands: `cameoguard wellbeing validate` (the wellbeing and rating policies),
`cameoguard wellbeing age ACCOUNT` (an account's latest age check), and
`cameoguard faces analyze --jsonl`: apparent ages of the faces in photos and videos, for
operators and for evaluation. Reads `{"id", "path"}` lines (stdin or --input), writes
`{"id", "faces": [{"box": [l, t, r, b], "apparent_age", "possible_minor"}]}` lines (stdout);
a file that cannot be read gets `"error"` instead of `"faces"`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

from cameoguard.db import session_scope
from cameoguard.errors import Refusal
from safety.consent.models import get_models
from safety.policy.pack import PackError
from wellbeing.age import latest_check
from wellbeing.faces import analyse_path
from wellbeing.policy import load_rating_policy, load_wellbeing_policy, wellbeing_policy

wellbeing_app = typer.Typer(help="Teens and wellbeing: policies, age checks.", no_args_is_help=True)


@wellbeing_app.command("validate")
def validate(
    wellbeing: Path = typer.Option(
        None, help="Wellbeing policy (default: policies/wellbeing.yaml)"
    ),
    rating: Path = typer.Option(None, help="Default: policies/rating.yaml"),
) -> None:
    """Validate the wellbeing and rating policies; exit 1 with file, line and reason."""
    try:
        refs = [load_wellbeing_policy(wellbeing).ref, load_rating_policy(rating).ref]
    except PackError as exc:
        sys.stderr.write(f"invalid policy {exc}\n")
        raise typer.Exit(1) from exc
    sys.stdout.write(f"ok {' '.join(refs)}\n")


@wellbeing_app.command("age")
def age(account_id: str, tenant: str = typer.Option("", help="The platform tenant")) -> None:
    """An account's latest age check as JSON (exit 1 when never checked: treated as teen)."""
    with session_scope() as session:
        check = latest_check(session, tenant, account_id)
        if check is None:
            sys.stderr.write("never checked: treated as teen\n")
            raise typer.Exit(1)
        sys.stdout.write(json.dumps({
            "check_id": check.id, "age_group": check.age_group, "method": check.method,
            "assurance_level": check.assurance_level, "evidence": check.evidence,
            "reasons": check.reasons, "policy": check.policy,
            "checked_at": check.checked_at.isoformat(),
        }, indent=2) + "\n")  # fmt: skip


ANALYZE_MAX_SECONDS = 60.0


def analyze_line(line: str, models: Any) -> dict[str, Any]:
    rules = wellbeing_policy().age_assurance
    request = json.loads(line)
    answer: dict[str, Any] = {"id": request.get("id")}
    try:
        found = analyse_path(
            Path(request["path"]),
            models,
            max_seconds=ANALYZE_MAX_SECONDS,
            fps=rules.frames_per_second,
            max_frames=rules.max_frames,
        )
    except (Refusal, OSError, KeyError) as exc:
        answer["error"] = str(exc) or type(exc).__name__
        return answer
    answer["faces"] = [
        {
            "box": list(person.box),
            "apparent_age": round(person.median, 1),
            "possible_minor": person.median < rules.challenge_age,
        }
        for person in found
    ]
    return answer


def register(faces_app: typer.Typer) -> None:
    @faces_app.command("analyze")
    def analyze(
        jsonl: bool = typer.Option(False, "--jsonl", help="Read and write JSON lines"),
        input_path: Path | None = typer.Option(None, "--input", help="JSONL file (default stdin)"),
    ) -> None:
        """Apparent age of every face (in a video: per person across frames; possible_minor:
        under the challenge age, 25)."""
        if not jsonl:
            raise typer.BadParameter("only --jsonl is supported")
        models = get_models()
        stream = input_path.open(encoding="utf-8") if input_path else sys.stdin
        with stream:
            for line in stream:
                if line.strip():
                    sys.stdout.write(json.dumps(analyze_line(line, models)) + "\n")
                    sys.stdout.flush()
