"""Prometheus metrics at ``/metrics`` (text exposition format 0.0.4).

Per process: requests by method, route template and status; request
latency as a histogram by method and route. Read from the database at each
scrape: outbox messages waiting, patients in virtual-visit queues, remote
consultation cases in flight by urgency and those past their deadline.
Route templates (``/api/visits/{visit_id}``), never raw paths, keep the
number of series bounded. Scrape with a national administrator's token
(``puente token NAME``): the route passes the one gate like every other.
"""

from __future__ import annotations

import os
import threading
from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(**values: str) -> str:
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in values.items()) + "}"


class Registry:
    """Counters and a latency histogram of this process's requests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, str, str], int] = defaultdict(int)
        self.buckets: dict[tuple[str, str], list[int]] = {}
        self.sums: dict[tuple[str, str], float] = defaultdict(float)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        with self._lock:
            self.requests[(method, route, str(status))] += 1
            counts = self.buckets.setdefault((method, route), [0] * (len(BUCKETS) + 1))
            for i, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    counts[i] += 1
            counts[-1] += 1  # +Inf
            self.sums[(method, route)] += seconds

    def lines(self) -> Iterable[str]:
        pid = str(os.getpid())
        with self._lock:
            requests = dict(self.requests)
            buckets = {k: list(v) for k, v in self.buckets.items()}
            sums = dict(self.sums)
        yield "# HELP puente_http_requests_total HTTP requests answered, by route and status."
        yield "# TYPE puente_http_requests_total counter"
        for (method, route, status), n in sorted(requests.items()):
            labels = _labels(method=method, route=route, status=status, process=pid)
            yield f"puente_http_requests_total{labels} {n}"
        yield "# HELP puente_http_errors_total HTTP requests answered with a 5xx status."
        yield "# TYPE puente_http_errors_total counter"
        errors = sum(n for (_m, _r, status), n in requests.items() if status.startswith("5"))
        yield f"puente_http_errors_total{_labels(process=pid)} {errors}"
        yield "# HELP puente_http_request_seconds Time to answer an HTTP request."
        yield "# TYPE puente_http_request_seconds histogram"
        for (method, route), counts in sorted(buckets.items()):
            for bound, n in zip([*map(str, BUCKETS), "+Inf"], counts, strict=True):
                labels = _labels(method=method, route=route, process=pid, le=bound)
                yield f"puente_http_request_seconds_bucket{labels} {n}"
            labels = _labels(method=method, route=route, process=pid)
            yield f"puente_http_request_seconds_sum{labels} {sums[(method, route)]:.6f}"
            yield f"puente_http_request_seconds_count{labels} {counts[-1]}"


def _gauge(name: str, help_text: str, values: dict[str, int] | int, label: str = "") -> list[str]:
    out = [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
    if isinstance(values, int):
        out.append(f"{name} {values}")
    else:
        out += [f"{name}{_labels(**{label: k})} {v}" for k, v in sorted(values.items())]
    return out


def database_lines(session: Session) -> list[str]:
    """Queue depths and deadlines, as the database has them now."""
    from puente.consults.models import ConsultCase
    from puente.db import utcnow
    from puente.enums import ConsultStatus, OutboxStatus, VisitStatus
    from puente.notify.models import OutboxMessage
    from puente.visits.models import Visit

    def count(query: Select[int]) -> int:
        return int(session.scalar(query) or 0)

    outbox = count(
        select(func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.pending)
    )
    queued = count(
        select(func.count()).select_from(Visit).where(Visit.status == VisitStatus.queued)
    )
    in_flight = (ConsultStatus.open, ConsultStatus.assigned)
    by_urgency = {
        str(getattr(urgency, "value", urgency)): int(n)
        for urgency, n in session.execute(
            select(ConsultCase.urgency, func.count())
            .where(ConsultCase.status.in_(in_flight))
            .group_by(ConsultCase.urgency)
        )
    }
    breached = count(
        select(func.count())
        .select_from(ConsultCase)
        .where(ConsultCase.status.in_(in_flight), ConsultCase.due_at < utcnow())
    )
    return [
        *_gauge("puente_outbox_pending", "Notifications waiting to be sent.", outbox),
        *_gauge("puente_visit_queue_depth", "Patients waiting in on-demand queues.", queued),
        *_gauge(
            "puente_consult_cases_in_flight",
            "Remote consultation cases open or assigned, by urgency.",
            by_urgency,
            "urgency",
        ),
        *_gauge(
            "puente_consult_deadlines_breached",
            "Cases in flight past their response deadline.",
            breached,
        ),
    ]


REGISTRY = Registry()
