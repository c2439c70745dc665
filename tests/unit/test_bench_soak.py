"""The soak's traffic: a fixed population whose customers rest between visits."""

from __future__ import annotations

import re
from typing import Any

import orjson

from bench.report import Report, markdown
from bench.soak import SoakResult, parts_of, sample_memory
from bench.soak_traffic import RestedPopulation, SoakTraffic
from bench.targets import targets
from bench.throughput import Result
from tracker.stream.memory_report import memory_report

START_MS = 1_780_000_000_000
REST_MS = 90_000


MEMBER_ID = re.compile(r"(cust|anon|bot)-\d{7}")


def _replay(traffic: SoakTraffic, seconds: int) -> list[tuple[int, dict[str, object]]]:
    """(arrival ms, event) of every event sent in ``seconds``, on a 100 ms clock."""
    out = []
    for step in range(seconds * 10):
        now = START_MS + step * 100
        for message in traffic.due(now):
            assert MEMBER_ID.fullmatch(message.key.decode())
            try:
                decoded = orjson.loads(message.value)
            except orjson.JSONDecodeError:
                continue  # the generator's malformed messages, sent as they are
            for item in decoded if isinstance(decoded, list) else [decoded]:
                if "event_id" not in item or item["event_type"] == "teleport":
                    continue  # the generator's other malformed kinds, rejected by the tracker
                assert item["customer_id"].encode() == message.key
                for key in ("customer_id", "anonymous_id"):
                    assert key not in item or MEMBER_ID.fullmatch(item[key]), item
                out.append((now, item))
    return out


def test_it_delivers_the_rate_it_asks_from_a_population_that_stops_growing() -> None:
    traffic = SoakTraffic(rate=200.0, rest_ms=REST_MS)
    events = _replay(traffic, 600)
    late = [e for at, e in events if at >= START_MS + 300_000]
    assert 0.95 < len(late) / 300 / 200 < 1.05  # events/s over the last five minutes
    members = {int(str(e["customer_id"]).split("-")[1]) for _, e in events}
    assert len(members) > 0.9 * traffic.population.members
    early = {
        int(str(e["customer_id"]).split("-")[1]) for at, e in events if at < START_MS + 300_000
    }
    # Seen within five minutes, but for a few of the rarer journey shapes' members.
    assert len(members) - len(early) < 0.05 * len(members)


def test_a_member_keeps_its_ids_across_visits() -> None:
    traffic = SoakTraffic(rate=200.0, rest_ms=REST_MS)
    logins = accounts = 0
    for _, event in _replay(traffic, 300):
        member = str(event["customer_id"]).split("-")[1]
        if "anonymous_id" in event:  # a login links the member's own device
            assert event["anonymous_id"] == f"anon-{member}"
            logins += 1
        if "account_id" in event:
            assert event["account_id"] == f"acct-{int(member) % 40:02d}"
            accounts += 1
    assert logins and accounts


def _page(customer: str) -> dict[str, object]:
    return {"customer_id": customer, "event_type": "page_view"}


def test_a_member_comes_back_only_after_its_visit_and_a_rest() -> None:
    population = RestedPopulation(rest_ms=REST_MS)
    visit = [(0.0, _page("cust-a")), (10.0, _page("cust-a")), (20.0, _page("cust-a"))]
    assert population("cust-a", visit, 0) == "cust-0000000"
    # Busy until 30 s of visit and 90 s of rest have passed: a new member meanwhile.
    assert population("cust-b", [(0.0, _page("cust-b"))], 119_999) == "cust-0000001"
    again = [(0.0, _page("cust-c")), (1.0, b"not json"), (1.0, _page("cust-c"))]
    assert population("cust-c", again, 120_000) == "cust-0000000"
    # Ids renamed; a malformed message is sent as it is, under the member's key.
    assert again == [(0.0, _page("cust-0000000")), (1.0, b"not json"), (1.0, _page("cust-0000000"))]
    # A reply hours later is not part of the visit: the member rests from its end.
    ticket = [(0.0, _page("cust-x")), (7_660.0, _page("cust-x"))]
    assert population("cust-x", ticket, 200_000) == "cust-0000002"
    # At rest, the longest-resting first: 1 (since 209,999), 0 (211,000), 2 (290,000).
    for name, member in (("cust-y", 1), ("cust-z", 0), ("cust-w", 2)):
        assert population(name, [(0.0, _page(name))], 290_000) == f"cust-{member:07d}"
    # A journey of another shape (anonymous, then a login) has members of its own.
    login = [(0.0, _page("anon-q")), (5.0, {**_page("cust-q"), "anonymous_id": "anon-q"})]
    assert population("anon-q", login, 400_000) == "anon-0000003"
    assert login[1][1] == {**_page("cust-0000003"), "anonymous_id": "anon-0000003"}
    assert population.members == 4


def test_a_member_who_withdrew_grants_consent_again_when_it_comes_back() -> None:
    population = RestedPopulation(rest_ms=REST_MS)
    consented = {"analytics": True, "marketing": False}
    page = {**_page("cust-a"), "consent": consented, "channel": "web"}
    withdrawal = {**page, "event_type": "consent", "consent": {"analytics": False}}
    assert population("cust-a", [(0.0, dict(page)), (5.0, withdrawal)], 0) == "cust-0000000"
    back = [(0.0, {**page, "customer_id": "cust-b"})]
    assert population("cust-b", back, 100_000) == "cust-0000000"
    grant, first = back[0][1], back[1][1]
    assert isinstance(grant, dict) and isinstance(first, dict)
    assert grant["event_type"] == "consent" and grant["consent"] == consented
    assert grant["customer_id"] == first["customer_id"] == "cust-0000000"
    assert population.regrants == 1
    again = [(0.0, {**page, "customer_id": "cust-c"})]
    population("cust-c", again, 200_000)
    assert len(again) == 1  # granted once: the member consents as before


def test_withdrawn_members_come_back_in_the_generated_stream() -> None:
    traffic = SoakTraffic(rate=200.0, rest_ms=REST_MS)
    events = _replay(traffic, 600)
    grants = [e for _, e in events if str(e["event_id"]).startswith("soak-regrant-")]
    assert 0 < len(grants) <= traffic.population.regrants  # the last may be still to come
    withdrawn: set[object] = set()
    for _, event in events:
        customer = event["customer_id"]
        consent = event["consent"]
        assert isinstance(consent, dict)
        if event["event_type"] == "consent":
            (withdrawn.discard if consent["analytics"] else withdrawn.add)(customer)
    # Some withdraw late in the run and have not come back yet; most have.
    assert len(withdrawn) < len(grants)


def test_the_report_says_what_the_soak_asked_delivered_and_kept_up_with() -> None:
    top = Result(
        "tracker worker, soak traffic", "soak traffic", 1, 120_000, 44_000, 3_000.0, 1_100.0
    )
    top.correct = False
    soak = SoakResult(60, 2_100.0, 7_488_000, population=40_000, cores=0.9, maximum=top)
    soak.applied = 7_480_000
    soak.samples = [(s * 60.0, 300.0 + s) for s in range(61)]
    text = markdown(Report("bench", "now", {}, "kafka", 8, soak=soak))
    assert "70% of the 3,000 events/s a worker drained of the same traffic" in text
    assert "(counts exact: False)" in text
    assert "Delivered 2,080 events/s from 40,000 customers" in text
    assert "7,480,000 applied when the producer stopped; the worker used 0.90 cores" in text
    assert "| RSS MiB | 306 | 315 | 330 | 345 | 360 |" in text


def test_the_report_says_which_drain_of_aged_state_the_rate_is_a_share_of() -> None:
    young = Result("tracker worker, soak traffic", "soak traffic", 1, 90_000, 30_000, 4_300.0, 0.0)
    young.correct = True
    aged = Result("aged", "soak traffic", 1, 900_000, 330_000, 3_000.0, 1_100.0)
    aged.correct = False
    soak = SoakResult(60, 2_100.0, 7_488_000, maximum=aged, young=young)
    soak.applied = 7_480_000
    soak.samples = [(s * 60.0, 300.0 + s) for s in range(61)]
    text = markdown(Report("bench", "now", {}, "kafka", 8, soak=soak))
    assert (
        "Asked: 70% of the 3,000 events/s a worker drained of the same traffic pre-filled "
        "(counts exact: False), over the second half of 900,000 events sent at 70% of the "
        "4,300 events/s drained from young state (counts exact: True). Delivered"
    ) in text


def _behind(applied: int, end_mib: float) -> str:
    soak = SoakResult(60, 1_000.0, 3_600_000, applied=applied)
    soak.samples = [(1800.0, 200.0), (3600.0, end_mib)]
    (row,) = [
        r
        for r in targets(Report("b", "now", {}, "kafka", 8, soak=soak))
        if r[0].startswith("RSS flat")
    ]
    return row[2]


def test_a_soak_that_fell_behind_can_miss_the_target_but_never_meet_it() -> None:
    assert _behind(3_540_000, 205.0) == "met"  # a minute of traffic behind at most
    assert _behind(3_500_000, 205.0) == "not the target's run (fell behind: 100,000 events)"
    assert _behind(3_500_000, 215.0) == "missed"


def test_the_report_splits_resident_memory_by_what_holds_it() -> None:
    soak = SoakResult(60, 2_100.0, 7_488_000)
    soak.samples = [(s * 60.0, 300.0 + s) for s in range(61)]
    soak.kinds = [(s * 60.0, {"malloc heap": 100.0 + s, "anonymous": 150.0}) for s in range(61)]
    text = markdown(Report("bench", "now", {}, "kafka", 8, soak=soak))
    assert "| smaps total MiB | 256 | 265 | 280 | 295 | 310 |" in text
    assert "| of which anonymous | 150 | 150 | 150 | 150 | 150 |" in text
    assert "| of which malloc heap | 106 | 115 | 130 | 145 | 160 |" in text
    assert soak.kind_growth_mib() == {"malloc heap": 30.0, "anonymous": 0.0}


def test_a_kind_gone_by_the_end_shows_as_shrinking() -> None:
    soak = SoakResult(60, 2_100.0, 0)
    soak.kinds = [(1800.0, {"files": 25.0, "thread arenas": 9.0}), (3600.0, {"files": 25.0})]
    assert soak.kind_growth_mib() == {"files": 0.0, "thread arenas": -9.0}
    assert soak.kind_names() == ["files", "thread arenas"]


class FakeWorker:
    def __init__(self, memory: tuple[int, bytes] = (0, b"")) -> None:
        self.memory = memory  # what /debug/memory answers
        self.asked: list[str] = []

    def rss(self) -> int:
        return 200 << 20

    def rss_by_kind(self) -> dict[str, int]:
        return {"malloc heap": 50 << 20}

    def get(self, path: str, timeout: float = 10, retry: bool = True) -> tuple[int, bytes]:
        self.asked.append(path)
        assert not retry, "a busy worker would walk its rows twice"
        return self.memory


def _memory_report(customer_bytes: int, minutes: int) -> dict[str, Any]:
    """What a worker's /debug/memory answers (tracker.stream.memory_report)."""
    kinds = {
        "customer": {"rows": 10, "bytes": customer_bytes},
        "minute": {"rows": 2, "bytes": 3 << 19},
        "other": {"rows": 1, "bytes": 100},
    }
    return {
        "rss_bytes": 200 << 20,
        "tables": {"tracker-state": kinds},
        "histograms": {"minutes": minutes, "hours": 3, "bytes": minutes * 100},
        "decoded_rows": 7,
        "pseudonyms": {"entries": 1234, "bound": 65536},
        "allocator": {
            "malloc": {"in_use": 40 << 20, "free": 3 << 19, "mapped": 1 << 20},
            "pymalloc_blocks": 900_000,
        },
    }


def test_resident_memory_is_split_once_a_minute_and_at_the_end() -> None:
    soak = SoakResult(60, 2_100.0, 0)
    worker = FakeWorker()
    for seconds in (0.0, 10.0, 59.0, 61.0, 70.0, 125.0):
        sample_memory(worker, soak, seconds)  # type: ignore[arg-type]
    sample_memory(worker, soak, 130.0, kinds=True)  # type: ignore[arg-type]
    assert [s for s, _ in soak.samples] == [0.0, 10.0, 59.0, 61.0, 70.0, 125.0, 130.0]
    assert [s for s, _ in soak.kinds] == [0.0, 61.0, 125.0, 130.0]
    assert soak.kinds_at(100.0) == {"malloc heap": 50.0}


def test_the_workers_own_count_of_its_parts_is_taken_with_each_split() -> None:
    soak = SoakResult(60, 2_100.0, 0)
    worker = FakeWorker((200, orjson.dumps(_memory_report(5 << 20, 4_000))))
    for seconds in (0.0, 10.0, 61.0):
        sample_memory(worker, soak, seconds)  # type: ignore[arg-type]
    assert worker.asked == ["/debug/memory", "/debug/memory"]
    assert [s for s, _ in soak.parts] == [0.0, 61.0]
    parts = soak.parts_at(61.0)
    assert parts["tracker-state customer rows MiB"] == 5.0
    assert parts["tracker-state minute rows MiB"] == 1.5
    assert parts["histogram minute buckets"] == 4_000
    assert parts["pseudonyms cached"] == 1_234
    assert parts["malloc in use MiB"] == 40.0
    assert parts["malloc free in its heaps MiB"] == 1.5
    assert parts["malloc mmapped chunks MiB"] == 1.0
    assert parts["pymalloc blocks"] == 900_000
    # Not glibc: no malloc rows, the rest as they are.
    report = _memory_report(5 << 20, 4_000)
    report["allocator"]["malloc"] = None
    assert not [name for name in parts_of(report) if name.startswith("malloc")]
    # The worker counts the GC's objects only when asked (?gc=1); the soak does not ask.
    assert "objects the GC tracks" not in parts
    counted = _memory_report(0, 0) | {"gc": {"tracked": 500_000, "frozen": 300_000}}
    assert parts_of(counted)["objects the GC tracks"] == 500_000
    # And the shape the worker really answers, not only this test's copy of it.
    assert parts_of(memory_report({}, {}))["pseudonyms cached"] == 0
    # A worker too busy to answer leaves a gap, not a failed soak, and the report a dash.
    busy = FakeWorker()
    sample_memory(busy, soak, 130.0, kinds=True)  # type: ignore[arg-type]
    assert [s for s, _ in soak.parts] == [0.0, 61.0]
    assert soak.parts_at(115.0) == soak.parts_at(61.0)  # within a minute of a sample
    assert soak.parts_at(130.0) == {}


def test_the_report_shows_the_workers_own_count_beside_resident_memory() -> None:
    soak = SoakResult(60, 2_100.0, 7_488_000)
    soak.samples = [(s * 60.0, 300.0 + s) for s in range(61)]
    soak.kinds = [(s * 60.0, {"malloc heap": 100.0 + s}) for s in range(61)]
    soak.parts = [
        (s * 60.0, parts_of(_memory_report((10 + s) << 20, 1_000 * s))) for s in range(61)
    ]
    text = markdown(Report("bench", "now", {}, "kafka", 8, soak=soak))
    assert (
        "| worker counts: tracker-state customer rows MiB | 16.0 | 25.0 | 40.0 | 55.0 | 70.0 |"
        in text
    )
    assert "| worker counts: histogram minute buckets | 6,000 | 15,000 | 30,000 |" in text
    assert "| worker counts: pseudonyms cached | 1,234 |" in text


def test_a_soak_without_samples_by_kind_reports_no_growth_by_kind() -> None:
    assert SoakResult(60, 2_100.0, 0).kind_growth_mib() == {}


def _flat_or_growing(share: float, end_mib: float, traced: int = 0) -> str:
    soak = SoakResult(60, 1_200.0, 0, share, traced=traced)
    soak.samples = [(360.0, 190.0), (1800.0, 200.0), (3600.0, end_mib)]
    report = Report("bench", "now", {}, "kafka", 8, soak=soak)
    (row,) = [row for row in targets(report) if row[0].startswith("RSS flat")]
    return row[2]


def test_a_soak_below_the_targets_share_can_miss_the_target_but_never_meet_it() -> None:
    assert _flat_or_growing(0.7, 205.0) == "met"
    assert _flat_or_growing(0.7, 215.0) == "missed"
    assert _flat_or_growing(0.55, 215.0) == "missed"
    assert _flat_or_growing(0.55, 205.0) == "not the target's run (at 55%, flat)"


def test_a_traced_soak_never_gives_the_target_a_verdict() -> None:
    # tracemalloc's own memory grows with the blocks it traces.
    assert _flat_or_growing(0.7, 205.0, traced=4) == "not the target's run (traced)"
    assert _flat_or_growing(0.7, 215.0, traced=4) == "not the target's run (traced)"


def test_a_traced_soak_reports_the_second_halfs_growth_by_site() -> None:
    soak = SoakResult(60, 1_200.0, 0, 0.5, traced=2)
    soak.samples = [(1800.0, 200.0), (3600.0, 210.0)]
    soak.traced_reports = [
        {"frames": 2, "traced_bytes": 50 * 2**20, "sites": []},
        {
            "frames": 2,
            "traced_bytes": 53 * 2**20,
            "sites": [],
            "change_bytes": 3 * 2**20,
            "changed": [
                {"where": ["aiokafka/x.py:10", "faust/y.py:20"], "bytes": 2**21, "blocks": 900},
                {"where": ["tracker/z.py:3"], "bytes": -(2**19), "blocks": -12},
            ],
        },
    ]
    text = markdown(Report("bench", "now", {}, "kafka", 8, soak=soak))
    assert "Traced by tracemalloc (2 frames a trace): 50.0 → 53.0 MiB over the second half" in text
    assert "| +2.00 | +900 | aiokafka/x.py:10 ← faust/y.py:20 |" in text
    assert "| -0.50 | -12 | tracker/z.py:3 |" in text
