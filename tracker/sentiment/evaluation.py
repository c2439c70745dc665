"""Accuracy of the comment-sentiment scorer on the project's hand-labelled comments.

`tracker/data/sentiment/{de,en}.jsonl` hold customer-feedback comments written for this
project, one `{"text": ..., "label": "positive" | "negative" | "neutral"}` per line,
labelled by a human for the comment's overall attitude (a balanced mix of praise and
complaint is neutral). Run `python -m tracker.sentiment.evaluation` for accuracy, a confusion
matrix per language and the mean scoring time per comment.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from importlib.resources import files
from typing import Final, get_args

from tracker.errors import TrackerError
from tracker.sentiment.scorer import Language, Polarity, SentimentScorer

LANGUAGES: Final[tuple[Language, ...]] = ("de", "en")
POLARITIES: Final[tuple[Polarity, ...]] = ("positive", "neutral", "negative")


class LabelledSetError(TrackerError):
    """A line of a labelled comment file is malformed."""


@dataclass(frozen=True, slots=True)
class LabelledComment:
    text: str
    label: Polarity


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Accuracy of one language; `confusion[(label, predicted)]` counts comments."""

    language: Language
    total: int
    correct: int
    confusion: dict[tuple[Polarity, Polarity], int]

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0


def load_labelled(language: Language) -> list[LabelledComment]:
    """The labelled comments of one language, in file order."""
    resource = files("tracker").joinpath("data", "sentiment", f"{language}.jsonl")
    comments: list[LabelledComment] = []
    for number, line in enumerate(resource.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        where = f"tracker/data/sentiment/{language}.jsonl line {number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise LabelledSetError(f"{where}: not JSON ({exc.msg})") from exc
        text, label = row.get("text"), row.get("label")
        if not isinstance(text, str) or label not in get_args(Polarity):
            raise LabelledSetError(f"{where}: needs a string 'text' and a polarity 'label'")
        comments.append(LabelledComment(text=text, label=label))
    return comments


def evaluate(language: Language, scorer: SentimentScorer | None = None) -> Evaluation:
    """Score every labelled comment of `language` and compare with its label."""
    scorer = scorer or SentimentScorer()
    confusion = {(label, predicted): 0 for label in POLARITIES for predicted in POLARITIES}
    comments = load_labelled(language)
    for comment in comments:
        predicted = scorer.score(comment.text, language).polarity
        confusion[(comment.label, predicted)] += 1
    correct = sum(confusion[(p, p)] for p in POLARITIES)
    return Evaluation(language=language, total=len(comments), correct=correct, confusion=confusion)


def accuracies(scorer: SentimentScorer | None = None) -> dict[Language, float]:
    """Accuracy per language on the labelled sets, e.g. `{"de": 0.8, "en": 0.75}`."""
    scorer = scorer or SentimentScorer()
    return {language: evaluate(language, scorer).accuracy for language in LANGUAGES}


def microseconds_per_comment(
    language: Language, scorer: SentimentScorer, rounds: int = 20
) -> float:
    """Mean wall time of one `score` call over the labelled set (analyzers already loaded)."""
    texts = [c.text for c in load_labelled(language)]
    scorer.score(texts[0], language)
    started = time.perf_counter()
    for _ in range(rounds):
        for text in texts:
            scorer.score(text, language)
    return (time.perf_counter() - started) / (rounds * len(texts)) * 1e6


def format_confusion(evaluation: Evaluation) -> str:
    """A text table: rows are human labels, columns the scorer's polarity."""
    width = max(len(p) for p in POLARITIES) + 2
    header = "label \\ scored".ljust(16) + "".join(p.rjust(width) for p in POLARITIES)
    rows = [
        label.ljust(16)
        + "".join(str(evaluation.confusion[(label, p)]).rjust(width) for p in POLARITIES)
        for label in POLARITIES
    ]
    return "\n".join([header, *rows])


def main() -> None:
    scorer = SentimentScorer()
    scorer.warm_up()
    for language in LANGUAGES:
        result = evaluate(language, scorer)
        speed = microseconds_per_comment(language, scorer)
        print(
            f"{language}: accuracy {result.accuracy:.1%} ({result.correct}/{result.total}),"
            f" {speed:.0f} µs per comment"
        )
        print(format_confusion(result))
        print()


if __name__ == "__main__":
    main()
