"""Strap-buffered heart rate: ``hr`` messages expanded into (FIT seconds, bpm) samples. No I/O.

A chest strap that was out of the watch's reach buffers its beats and sends them later in ``hr``
messages. The first message of a burst is an anchor: ``timestamp`` (+ ``fractional_timestamp``)
is the time of its single 32-bit ``event_timestamp``. Later messages carry 12-bit event
timestamps (1/1024 s) that roll over every 4 s; they are accumulated from the anchor's value, as
in the Garmin SDK's ``expand_heart_rates`` (fitparse accumulates them from zero instead).
"""

from __future__ import annotations

from collections.abc import Iterable

from pipeline.fit.decode import HrFields


def expand_hr(messages: Iterable[HrFields]) -> tuple[list[float], list[int]]:
    """Sample times (FIT seconds, possibly device-relative) and bpm, in message order.

    No gap filling; messages before the first anchor are dropped (they cannot be timed).
    """
    out_ts: list[float] = []
    out_bpm: list[int] = []
    anchor_t: float | None = None
    anchor_et = last_et = 0
    for h in messages:
        if isinstance(h.timestamp, int) and h.event_timestamps:
            anchor_t = h.timestamp + (h.fractional or 0.0)
            anchor_et = last_et = h.event_timestamps[0]
            events = h.event_timestamps
        elif anchor_t is not None and h.event_timestamps_12:
            events = []
            last = last_et
            for v in h.event_timestamps_12:
                nxt = (last & ~0xFFF) + v
                if v < (last & 0xFFF):
                    nxt += 0x1000
                last = nxt & 0xFFFFFFFF
                events.append(last)
            last_et = last
        else:
            continue
        if anchor_t is None:  # for the type checker: both branches above set it
            continue
        for et, bpm in zip(events, h.bpms, strict=False):
            if isinstance(bpm, int):
                out_ts.append(anchor_t + ((et - anchor_et) & 0xFFFFFFFF) / 1024.0)
                out_bpm.append(bpm)
    return out_ts, out_bpm
