"""Comment sentiment, German and English, from maintained lexicons (VADER, textblob-de)."""

from tracker.sentiment.scorer import SentimentScore, SentimentScorer, UnsupportedLanguageError

__all__ = ["SentimentScore", "SentimentScorer", "UnsupportedLanguageError"]
