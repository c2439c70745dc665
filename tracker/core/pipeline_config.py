"""Settings turned into the pure pipeline's configuration objects."""

from __future__ import annotations

from dataclasses import dataclass, field

from tracker.core.accounts import AccountProcessor
from tracker.core.experience import ExperienceRules
from tracker.core.experiments import parse_allow_list
from tracker.core.identity_stage import HoldLimits
from tracker.core.ingest import Limits
from tracker.core.labels import WINDOWS, LabelSets
from tracker.core.partition import PartitionProcessor, Timing
from tracker.core.pseudonym import Pseudonymizer
from tracker.core.retention import Lapse
from tracker.core.sessionizer import Rules, Scorer
from tracker.core.state_store import StateStore
from tracker.settings import Settings


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    rules: Rules
    limits: Limits
    timing: Timing
    pseudonyms: Pseudonymizer
    repurchase_seconds: float
    hold: HoldLimits = field(default_factory=HoldLimits)

    @classmethod
    def from_settings(
        cls, settings: Settings, pseudonyms: Pseudonymizer, scorer: Scorer | None = None
    ) -> PipelineConfig:
        labels = LabelSets.build(
            settings.touchpoints,
            settings.actions,
            settings.currencies,
            settings.funnel,
            parse_allow_list(settings.experiments),
        )
        rules = Rules(
            labels=labels,
            gap_ms=_ms(settings.session_gap),
            max_session_ms=_ms(settings.session_max_duration),
            dedup_ms=_ms(settings.dedup_window),
            withdrawal_ms=_ms(settings.withdrawal_memory),
            scorer=scorer,
            experience=ExperienceRules(
                ticket_ms=_ms(settings.support_ticket_lifetime),
                lapse=Lapse(_ms(settings.lapse_min), settings.lapse_gap_factor),
                mde=settings.experiment_mde,
            ),
        )
        longest_window = max(max(WINDOWS.values()), settings.repurchase_lookback)
        timing = Timing(
            max_out_of_order_ms=_ms(settings.max_out_of_order),
            idle_timeout_ms=_ms(settings.idle_timeout),
            max_future_ms=_ms(settings.max_future),
            retention_ms=_ms(longest_window),
            letter_retention_ms=_ms(settings.dlq_retention_hours * 3600),
        )
        limits = Limits(
            settings.max_message_bytes,
            settings.max_message_events,
            bots="kafka" not in settings.bot_filter_off,
        )
        hold = HoldLimits(settings.identity_hold_events, _ms(settings.identity_hold_timeout))
        return cls(rules, limits, timing, pseudonyms, settings.repurchase_lookback, hold)

    def account_processor(self, partition: int, store: StateStore) -> AccountProcessor:
        return AccountProcessor(
            partition=partition,
            store=store,
            max_out_of_order_ms=self.timing.max_out_of_order_ms,
            idle_timeout_ms=self.timing.idle_timeout_ms,
        )

    def processor(
        self, partition: int, store: StateStore, partitions: int = 1
    ) -> PartitionProcessor:
        """``partitions``: the input topic's, where identity records find the other id."""
        return PartitionProcessor(
            partition=partition,
            rules=self.rules,
            store=store,
            pseudonyms=self.pseudonyms,
            limits=self.limits,
            timing=self.timing,
            partitions=partitions,
            hold=self.hold,
        )
