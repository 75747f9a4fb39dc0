"""The managers' figures as Prometheus gauges: set when a ranking is computed or loaded.

Nothing here queries on a scrape: at 10 million customers the figures come from the job.
"""

from __future__ import annotations

from prometheus_client import Gauge

from touchpoint_profile.ranking.models import RankingRun

RANKING_VERSION = Gauge("touchpoint_ranking_version", "Version of the newest base-wide ranking.")
RANKING_COMPUTED = Gauge(
    "touchpoint_ranking_computed_timestamp_seconds", "When the newest ranking was computed."
)
RANKING_DURATION = Gauge("touchpoint_ranking_duration_seconds", "How long the newest run took.")
ABC_CUSTOMER_SHARE = Gauge(
    "touchpoint_abc_customer_share", "Share of buyers in each ABC tier (by profit).", ["tier"]
)
ABC_PROFIT_SHARE = Gauge(
    "touchpoint_abc_profit_share", "Share of window profit each ABC tier brings.", ["tier"]
)
ABC_CUSTOMERS = Gauge("touchpoint_abc_customers", "Buyers in each ABC tier.", ["tier"])
LIFECYCLE_CUSTOMERS = Gauge(
    "touchpoint_lifecycle_customers", "Customers in each lifecycle stage.", ["stage"]
)
RFM_BAND_CUSTOMERS = Gauge(
    "touchpoint_rfm_band_customers", "Window buyers in each R x F x M band.", ["band"]
)
CHURN_RATE = Gauge(
    "touchpoint_churn_rate", "Buyers lost in the churn period / buyers at its start."
)

COMPLAINTS_RESOLVED = Gauge(
    "touchpoint_complaints_resolved", "Complaints resolved in the figures period."
)
COMPLAINT_HOURS_TO_RESOLVE = Gauge(
    "touchpoint_complaint_hours_to_resolve",
    "Hours from opening to resolution of the complaints resolved in the period.",
    ["stat"],
)
COMPLAINTS_ON_TIME_SHARE = Gauge(
    "touchpoint_complaints_resolved_on_time_share",
    "Share of the period's resolved complaints resolved within their response time.",
)
COMPLAINTS_FOLLOWED_UP = Gauge(
    "touchpoint_complaints_followed_up", "Resolved complaints with a satisfaction follow-up."
)
COMPLAINT_SATISFACTION = Gauge(
    "touchpoint_complaint_satisfaction_mean", "Mean satisfaction (1-5) after follow-up."
)
COMPLAINT_SATISFIED_SHARE = Gauge(
    "touchpoint_complaint_satisfied_share", "Share of follow-ups rating satisfaction 4 or 5."
)


def set_figures(run: RankingRun) -> None:
    """Export a run's figures."""
    figures = run.figures
    RANKING_VERSION.set(run.ranking.version)
    RANKING_COMPUTED.set(run.ranking.computed_at.timestamp())
    RANKING_DURATION.set(run.duration_s)
    for tier, share in figures.abc.items():
        ABC_CUSTOMERS.labels(tier).set(share.customers)
        ABC_CUSTOMER_SHARE.labels(tier).set(share.customer_share)
        ABC_PROFIT_SHARE.labels(tier).set(share.profit_share or 0.0)
    for stage, count in figures.lifecycle.items():
        LIFECYCLE_CUSTOMERS.labels(stage).set(count)
    for band, count in figures.rfm_bands.items():
        RFM_BAND_CUSTOMERS.labels(band).set(count)
    CHURN_RATE.set(figures.churn.rate or 0.0)
    complaints = figures.complaints
    if complaints is not None:
        COMPLAINTS_RESOLVED.set(complaints.resolved)
        for stat, hours in (
            ("mean", complaints.hours_to_resolve_mean),
            ("median", complaints.hours_to_resolve_median),
            ("p90", complaints.hours_to_resolve_p90),
        ):
            COMPLAINT_HOURS_TO_RESOLVE.labels(stat).set(hours or 0.0)
        COMPLAINTS_ON_TIME_SHARE.set(complaints.resolved_on_time_share or 0.0)
        COMPLAINTS_FOLLOWED_UP.set(complaints.followed_up)
        COMPLAINT_SATISFACTION.set(complaints.satisfaction_mean or 0.0)
        COMPLAINT_SATISFIED_SHARE.set(complaints.satisfied_share or 0.0)
