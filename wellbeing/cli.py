"""`cameoguard faces analyze --jsonl`: apparent ages of the faces in photos and videos, for
operators and for evaluation. Reads `{"id", "path"}` lines (stdin or --input), writes
`{"id", "faces": [{"box": [l, t, r, b], "apparent_age", "possible_minor"}]}` lines (stdout);
a file that cannot be read gets `"error"` instead of `"faces"`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

from cameoguard.errors import Refusal
from safety.consent.models import get_models
from wellbeing.faces import analyse_path
from wellbeing.policy import wellbeing_policy

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
