"""Deliver notifications through apprise: the one module that imports ``apprise``. Does I/O.

``send`` hands a composed ``Notification`` (``pipeline.plans.notify``) to each configured apprise
URL (ntfy, email, a webhook, the desktop…) separately, so one broken channel does not hold the
others back, and returns one ``Delivery`` per URL: sent or not, and why not, in apprise's own
words. It never raises into the caller: a notice that cannot go out must not fail a check or a
nightly run.

``notify_new`` is the rule "never twice, retried until it arrives": per channel it sends only the
findings whose keys ``notifications_sent`` does not hold for that channel, and records the keys
only after that channel accepted them, so a failed delivery goes out on the next run.

A channel is named by its scheme and a hash of its URL: the store and the logs never hold the
tokens or passwords an apprise URL carries.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

import apprise

from pipeline.config import Settings
from pipeline.plans.notify import Finding, Notification, compose, new_findings
from pipeline.store import plans_sql as ps
from pipeline.store.db import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    """The outcome of one notification on one channel."""

    channel: str  # scheme:hash of the URL (stored, logged)
    target: str  # scheme://host of the URL, for a person (no credentials, no path)
    ok: bool
    reason: str  # why it failed; '' when sent
    keys: tuple[str, ...]  # findings it carried (recorded as sent only when ok)


def channel_id(url: str) -> str:
    """A stable name of an apprise URL that holds none of its secrets."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else "?"
    return f"{scheme}:{hashlib.sha256(url.encode()).hexdigest()[:12]}"


def target_label(url: str) -> str:
    """``scheme://host[:port]`` of an apprise URL, for messages (user and password left out)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return url.split("://", 1)[0] + "://…"
    return f"{parts.scheme}://{host}{port}"


def send_one(notification: Notification, url: str) -> Delivery:
    """Send to one apprise URL; failures come back as a ``Delivery`` with apprise's reason."""
    channel, target = channel_id(url), target_label(url)
    body = apprise.Apprise()
    try:
        if not body.add(url):
            return Delivery(
                channel,
                target,
                False,
                f"{target} is not an apprise URL legday can use; check notify_urls in [plans] "
                "(https://github.com/caronc/apprise/wiki lists the forms)",
                notification.keys,
            )
        with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as captured:
            ok = bool(
                body.notify(
                    body=notification.body,
                    title=notification.title,
                    notify_type=apprise.NotifyType(notification.notify_type),
                )
            )
            said = " ".join(str(captured.getvalue()).split()).rstrip(".")
    except Exception as exc:  # a plugin error must not fail the caller
        ok, said = False, f"{type(exc).__name__}: {' '.join(str(exc).split())}"
    if ok:
        return Delivery(channel, target, True, "", notification.keys)
    reason = f"{target} did not take the notification: {said[:300] or 'no reason given'}"
    return Delivery(
        channel, target, False, reason + "; legday tries again next run", notification.keys
    )


def send(notification: Notification, urls: Sequence[str]) -> list[Delivery]:
    """Send to each URL; one ``Delivery`` per URL, in order. Never raises."""
    out = [send_one(notification, url) for url in urls]
    for d in out:
        if not d.ok:
            log.warning("notification not delivered: %s", d.reason)
    return out


def notify_new(
    store: Store,
    settings: Settings,
    findings: Sequence[Finding],
    now: datetime,
    *,
    athlete: str | None = None,
) -> list[Delivery]:
    """Send the findings not yet delivered on each channel; record those that arrived.

    ``athlete`` picks the zone the times are written in and names the athlete in the title
    when several are configured. No URLs configured: nothing is sent (notifications are off).
    """
    urls = list(dict.fromkeys(settings.plans.notify_urls))
    if not urls or not findings:
        return []
    tz = settings.athlete(athlete).tz
    label = athlete if athlete and len(settings.athletes) > 1 else None
    keys = [f.finding_key for f in findings]
    out: list[Delivery] = []
    for url in urls:
        channel = channel_id(url)
        fresh = new_findings(findings, ps.sent_keys(store, channel, keys))
        notification = compose(fresh, tz, athlete=label)
        if notification is None:
            continue
        delivery = send_one(notification, url)
        if delivery.ok:
            ps.record_sent(store, channel, list(notification.keys), now)
        else:
            log.warning("notification not delivered: %s", delivery.reason)
        out.append(delivery)
    return out
