"""Tests of pipeline.fit: the real corpus, hand-built FIT bytes and hostile inputs.

The parser runs in its fast mode, as in a parser process (``enable_fast_decode``);
``test_fast_decode.py`` checks that mode against stock fitparse.
"""

from __future__ import annotations

import struct
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.fit import (
    PARSER_VERSION,
    SessionProblem,
    enable_fast_decode,
    fit_crc,
    fit_declared_length,
    fit_is_complete,
    parse_fit,
)
from pipeline.fit.schemas import (
    HR_SCHEMA,
    LAP_SCHEMA,
    SESSION_SCHEMA,
    SET_SCHEMA,
    STEP_SCHEMA,
    ParsedFile,
)

NOW = datetime(2026, 11, 24, tzinfo=UTC)
FIT_EPOCH_S = 631065600

BROKEN = {
    "activity-activity-filecrc.fit": ("partial", "crc_mismatch"),
    "activity-filecrc.fit": ("partial", "crc_mismatch"),
    "activity-settings-corruptheader.fit": ("partial", "trailing_bytes"),
    "activity-settings-nodata.fit": ("partial", "truncated"),
    "activity-unexpected-eof.fit": ("partial", "truncated"),
    "nick.fit": ("partial", "truncated"),
    "strava-android-app-201.10-b1218918.fit": ("partial", "truncated"),
}


@pytest.fixture(autouse=True, scope="module")
def _fast_mode() -> None:
    assert enable_fast_decode()


def assert_schemas(p: ParsedFile) -> None:
    assert p.status in {"stored", "partial", "quarantined"}
    assert dict(p.sessions.schema) == SESSION_SCHEMA
    assert dict(p.laps.schema) == LAP_SCHEMA
    assert dict(p.hr.schema) == HR_SCHEMA
    assert dict(p.sets.schema) == SET_SCHEMA
    assert dict(p.steps.schema) == STEP_SCHEMA
    if p.status == "stored":
        assert p.reason is None
    else:
        assert p.reason is not None and p.reason.code and p.reason.message.endswith(".")


def corpus_file(corpus_dir: Path, name_end: str) -> bytes:
    (path,) = [p for p in corpus_dir.iterdir() if p.name.endswith(name_end)]
    return path.read_bytes()


def expected_sports(cell: str) -> list[tuple[str | None, str | None, int | None]]:
    """Manifest ``sport_sub_sport`` -> [(sport, sub_sport, sport_code or None)]."""
    out = []
    for part in cell.removeprefix("sport_msg:").split(" | "):
        sport, sub = part.split("/")
        code = None
        if "(" in sport:  # '75(volleyball)': a code fitparse 1.2.0 does not know
            raw, sport = sport.rstrip(")").split("(")
            code = int(raw)
        out.append((None if sport == "None" else sport, None if sub == "None" else sub, code))
    return out


# ---------------------------------------------------------------------------------------------
# Corpus


@pytest.mark.corpus
def test_every_corpus_file_gets_an_outcome(
    parsed_corpus: dict[str, ParsedFile], corpus_manifest: list[dict[str, str]]
) -> None:
    """Every corpus file, parsed once per session (``parsed_corpus``, fast decode in parser
    processes as production runs it; stock and fast decoding agree: test_fast_decode)."""
    assert len(corpus_manifest) == 95
    for row in corpus_manifest:
        p = parsed_corpus[row["file"]]
        assert_schemas(p)
        if row["parses_with_fitparse"] == "yes":
            assert p.status == "stored", (row["file"], p.reason)
            if row["sport_sub_sport"]:
                got = list(zip(p.sessions["sport"], p.sessions["sub_sport"], strict=True))
                want = expected_sports(row["sport_sub_sport"])
                assert got == [(s, sub) for s, sub, _ in want], row["file"]
                for code, (_, _, want_code) in zip(p.sessions["sport_code"], want, strict=True):
                    assert want_code is None or code == want_code
                assert p.sessions["summary_source"].to_list() == ["session"] * len(want)
            elif int(row["n_records"]) > 0:
                # No session message: one session derived from the records.
                assert p.sessions["summary_source"].to_list() == ["records"], row["file"]
                assert "no_session_message" in {w.code for w in p.warnings}
            else:
                assert p.sessions.height == 0, row["file"]
                assert p.info.file_type is not None
        else:
            name = row["file"].split("__")[-1]
            status, code = BROKEN[name]
            assert (p.status, p.reason and p.reason.code) == (status, code), row["file"]
        if p.status != "quarantined":
            records = p.hr.filter(source="record").height
            assert records == int(row["n_hr_records"]), row["file"]
            assert p.sets.filter(set_type="active").height == int(row["n_active_set"])


@pytest.mark.corpus
def test_truncated_file_keeps_prefix_and_derives_summary(corpus_dir: Path) -> None:
    p = parse_fit(corpus_file(corpus_dir, "nick.fit"), now=NOW)
    assert p.sessions["summary_source"].to_list() == ["records"]
    assert p.sessions["sport"].to_list() == ["cycling"]  # from the sport message
    row = p.sessions.row(0, named=True)
    assert row["end_utc"] > row["start_utc"]
    assert row["max_hr"] >= row["avg_hr"] > 40
    assert row["distance_m"] > 1000


@pytest.mark.corpus
@pytest.mark.parametrize("name", ["compressed-speed-distance.fit", "tcx__activity_217470507.fit"])
def test_relative_timestamps_end_on_plausible_dates(corpus_dir: Path, name: str) -> None:
    p = parse_fit(corpus_file(corpus_dir, name), now=NOW)
    assert p.status == "stored"
    assert "relative_timestamps" in {w.code for w in p.warnings}
    assert "implausible_timestamp" not in {w.code for w in p.warnings}
    for col in ("start_utc", "end_utc"):
        ts = p.sessions[col][0]
        assert datetime(2008, 1, 1, tzinfo=UTC) < ts < datetime(2020, 1, 1, tzinfo=UTC)
    start, end = p.sessions.row(0, named=True)["start_utc"], p.sessions["end_utc"][0]
    if p.hr.height:
        assert p.hr["ts"].min() >= start and p.hr["ts"].max() <= end
    assert (p.laps["start_utc"] >= start).all()


@pytest.mark.corpus
def test_strength_sets_map_categories_and_exercises(corpus_dir: Path) -> None:
    p = parse_fit(corpus_file(corpus_dir, "20474406937_ACTIVITY.fit"), now=NOW)
    active = p.sets.filter(set_type="active")
    assert active.height == 38
    for names, codes in zip(active["categories"], active["category_codes"], strict=True):
        assert len(names) == len(codes)
        assert all(not n.isdigit() for n in names)  # every code, >32 included, has a name
    assert set(p.sets["set_type"]) == {"active", "rest"}
    assert p.sets["session_index"].to_list() == [0] * p.sets.height
    assert active.filter(active["category"] != "unknown").height > 0
    assert (active["duration_s"] > 0).all()
    # Garmin session fields fitparse does not know, mapped by number from the profile.
    s = p.sessions.row(0, named=True)
    assert s["training_load_peak"] is not None and s["training_load_peak"] > 0
    assert s["total_training_effect"] is not None and 0 <= s["total_training_effect"] <= 5


@pytest.mark.corpus
def test_exercise_names_from_category_subtype(corpus_dir: Path) -> None:
    p = parse_fit(corpus_file(corpus_dir, "20748058539_ACTIVITY.fit"), now=NOW)
    first = p.sets.filter(set_type="active").row(0, named=True)
    assert (first["category"], first["category_subtype"]) == ("pull_up", 0)
    assert first["exercise_name"] == "banded_pull_ups"
    assert first["categories"] == ["pull_up", "shrug", "hip_raise"]


@pytest.mark.corpus
def test_multisession_file_assigns_sets_to_strength_session(corpus_dir: Path) -> None:
    p = parse_fit(corpus_file(corpus_dir, "20744294788_ACTIVITY.fit"), now=NOW)
    assert p.sessions["sport"].to_list() == ["cycling", "training"]
    active = p.sets.filter(set_type="active")
    assert active["session_index"].unique().to_list() == [1]
    counts = p.hr.group_by("session_index").len().sort("session_index")
    assert counts["session_index"].to_list() == [0, 1]
    assert p.sessions["workout_rpe"].to_list() == [None, 4.0]  # stored as 40
    assert p.sessions["name"].to_list() == ["Bike Indoor", "Strength"]


@pytest.mark.corpus
def test_workout_plan_steps_and_exercise_titles(corpus_dir: Path) -> None:
    p = parse_fit(corpus_file(corpus_dir, "D55A5738.fit"), now=NOW)
    assert p.status == "stored" and p.sessions.height == 0
    assert p.info.file_type == "workout"
    titles = p.steps.filter(source="exercise_title")
    assert titles.height == 9
    assert titles["name"].drop_nulls().len() > 0
    assert titles["category"].drop_nulls().len() == 9
    assert p.steps.filter(source="workout_step").height == 43


@pytest.mark.corpus
@pytest.mark.parametrize("name", ["garmin-fr935-cr.fit", "event_timestamp.fit"])
def test_strap_hr_messages_fall_inside_their_session(corpus_dir: Path, name: str) -> None:
    p = parse_fit(corpus_file(corpus_dir, name), now=NOW)
    strap = p.hr.filter(source="hr")
    assert strap.height > 1000
    s = p.sessions.row(0, named=True)
    # The strap buffers from when it is put on, so samples start before the session (20 min
    # here; same times as the Garmin SDK's expand_heart_rates), but end with it.
    slack = 3600
    assert strap["ts"].min().timestamp() >= s["start_utc"].timestamp() - slack
    assert strap["ts"].max().timestamp() <= s["end_utc"].timestamp() + 120
    assert strap["ts"].is_sorted()
    assert (strap["session_index"] == 0).all()
    assert strap["bpm"].is_between(30, 230).all()


@pytest.mark.corpus
def test_unknown_sport_codes_keep_code_and_profile_name(corpus_dir: Path) -> None:
    p = parse_fit(corpus_file(corpus_dir, "snorkeling-unknown-sport.fit"), now=NOW)
    assert p.sessions.select("sport", "sport_code").row(0) == ("snorkeling", 82)


@pytest.mark.corpus
def test_file_info(corpus_dir: Path) -> None:
    p = parse_fit(corpus_file(corpus_dir, "20474406937_ACTIVITY.fit"), now=NOW)
    assert p.info.file_type == "activity"
    assert p.info.manufacturer == "garmin"
    assert p.info.product is not None and not p.info.product.isdigit()
    assert p.info.time_created is not None and p.info.time_created.tzinfo is not None
    assert p.info.utc_offset_s is not None and p.info.utc_offset_s % 900 == 0


@pytest.mark.corpus
def test_bad_local_offset_is_ignored_with_warning(corpus_dir: Path) -> None:
    p = parse_fit(corpus_file(corpus_dir, "zwift-turbo.fit"), now=NOW)
    assert p.info.utc_offset_s is None
    assert "bad_utc_offset" in {w.code for w in p.warnings}


@pytest.mark.corpus
def test_crc_flip_keeps_data_as_partial(corpus_dir: Path) -> None:
    data = bytearray(corpus_file(corpus_dir, "20748058539_ACTIVITY.fit"))
    clean = parse_fit(bytes(data), now=NOW)
    data[-1] ^= 0xFF  # the file CRC itself: every message still decodes
    p = parse_fit(bytes(data), now=NOW)
    assert (p.status, p.reason and p.reason.code) == ("partial", "crc_mismatch")
    assert p.sessions.equals(clean.sessions) and p.sets.equals(clean.sets)


@pytest.mark.corpus
def test_cut_file_is_partial_truncated(corpus_dir: Path) -> None:
    data = corpus_file(corpus_dir, "20748058539_ACTIVITY.fit")
    p = parse_fit(data[: len(data) // 2], now=NOW)
    assert (p.status, p.reason and p.reason.code) == ("partial", "truncated")
    whole = parse_fit(data, now=NOW)
    assert 0 < p.hr.height < whole.hr.height
    # The FR965 writes its session summary first, so it survives the cut.
    assert p.sessions.equals(whole.sessions)
    assert not fit_is_complete(data[: len(data) // 2]) and fit_is_complete(data)


@pytest.mark.corpus
def test_trailing_garbage_and_zero_padding(corpus_dir: Path) -> None:
    data = corpus_file(corpus_dir, "python-fitparse__tests__files__Activity.fit")
    p = parse_fit(data + b"\x01garbage!", now=NOW)
    assert (p.status, p.reason and p.reason.code) == ("partial", "trailing_bytes")
    assert p.sessions.height == 1
    z = parse_fit(data + bytes(64), now=NOW)
    assert z.status == "stored" and "zero_padding" in {w.code for w in z.warnings}


@pytest.mark.corpus
def test_chained_file_completeness(corpus_dir: Path) -> None:
    data = corpus_file(corpus_dir, "activity-settings.fit")
    first = fit_declared_length(data[:12])
    assert first is not None and first < len(data)
    assert fit_is_complete(data[:first])  # the first chunk alone is whole
    assert not fit_is_complete(data[: first + 13])  # a second header, then nothing
    assert fit_is_complete(data)


# ---------------------------------------------------------------------------------------------
# Hand-built FIT files


def fit_file(messages: list[bytes], *, header_size: int = 14) -> bytes:
    body = b"".join(messages)
    head = struct.pack("<BBHI4s", header_size, 0x20, 2132, len(body), b".FIT")
    if header_size == 14:
        head += struct.pack("<H", fit_crc(head))
    data = head + body
    return data + struct.pack("<H", fit_crc(data))


def definition(local: int, mesg: int, fields: list[tuple[int, int, int]]) -> bytes:
    out = struct.pack("<BBBHB", 0x40 | local, 0, 0, mesg, len(fields))
    return out + b"".join(struct.pack("BBB", *f) for f in fields)


def data_msg(local: int, fmt: str, *values: int) -> bytes:
    return struct.pack("<B" + fmt, local, *values)


U8, U16, U32, ENUM = (1, 0x02), (2, 0x84), (4, 0x86), (1, 0x00)


def activity_bytes(
    start: int,
    *,
    correlation: tuple[int, int] | None = None,
    n_records: int = 30,
) -> bytes:
    """file_id + records + a running session, all times given in FIT seconds."""
    msgs = [
        definition(0, 0, [(0, *ENUM), (1, *U16), (4, *U32)]),
        data_msg(0, "BHI", 4, 1, start),
        definition(1, 20, [(253, *U32), (3, *U8)]),
    ]
    if correlation is not None:
        msgs += [
            definition(3, 162, [(253, *U32), (1, *U32)]),
            data_msg(3, "II", *correlation),
        ]
    msgs += [data_msg(1, "IB", start + i, 120 + i % 30) for i in range(n_records)]
    msgs += [
        definition(2, 18, [(253, *U32), (2, *U32), (7, *U32), (5, *ENUM), (6, *ENUM)]),
        data_msg(2, "IIIBB", start + n_records, start, n_records * 1000, 1, 0),
    ]
    return fit_file(msgs)


def to_fit(dt: datetime) -> int:
    return int(dt.timestamp()) - FIT_EPOCH_S


def test_handmade_activity_round_trip() -> None:
    start = to_fit(datetime(2025, 3, 1, 7, 0, tzinfo=UTC))
    p = parse_fit(activity_bytes(start), now=NOW)
    assert p.status == "stored" and p.reason is None and p.warnings == []
    s = p.sessions.row(0, named=True)
    assert (s["sport"], s["sub_sport"], s["sport_code"]) == ("running", "generic", 1)
    assert s["start_utc"] == datetime(2025, 3, 1, 7, 0, tzinfo=UTC)
    assert s["elapsed_s"] == 30.0
    assert p.hr["bpm"].to_list()[:3] == [120, 121, 122]
    assert p.hr["ts"][0] == s["start_utc"]
    assert p.info.file_type == "activity" and p.info.manufacturer == "garmin"


def test_relative_timestamps_anchored_by_correlation() -> None:
    boot_at = to_fit(datetime(2024, 5, 5, 6, 0, tzinfo=UTC))
    data = activity_bytes(1000, correlation=(boot_at + 1000, 1000))
    p = parse_fit(data, now=NOW)
    assert p.status == "stored"
    # system time 1000 s after power-on is boot_at + 1000 s
    assert p.sessions["start_utc"][0] == datetime(2024, 5, 5, 6, 16, 40, tzinfo=UTC)
    assert "relative_timestamps" in {w.code for w in p.warnings}


def test_relative_timestamps_without_anchor_are_quarantined() -> None:
    p = parse_fit(activity_bytes(1000), now=NOW)
    assert (p.status, p.reason and p.reason.code) == (
        "quarantined",
        "relative_timestamps_unanchored",
    )


def test_future_session_is_flagged_per_session() -> None:
    start = to_fit(datetime(2027, 6, 1, tzinfo=UTC))
    p = parse_fit(activity_bytes(start), now=NOW)
    notes = [w for w in p.warnings if w.code == "implausible_timestamp"]
    assert len(notes) == 1 and "session_index=0" in notes[0].message
    assert p.session_problems == [SessionProblem(0, "implausible_timestamp", notes[0].message)]
    assert p.status == "stored"
    clean = parse_fit(activity_bytes(start), now=datetime(2027, 6, 1, tzinfo=UTC))
    assert "implausible_timestamp" not in {w.code for w in clean.warnings}
    assert clean.session_problems == []


def test_empty_and_not_fit() -> None:
    assert parse_fit(b"").reason.code == "empty"  # type: ignore[union-attr]
    p = parse_fit(b"<?xml version='1.0'?><TrainingCenterDatabase/>")
    assert (p.status, p.reason and p.reason.code) == ("quarantined", "not_fit")


def test_header_only_is_no_data() -> None:
    p = parse_fit(fit_file([]))
    assert (p.status, p.reason and p.reason.code) == ("quarantined", "no_data")


def test_huge_declared_size_is_truncated_quickly() -> None:
    head = struct.pack("<BBHI4s", 12, 0x20, 2132, 0xFFFFFFF0, b".FIT")
    p = parse_fit(head + b"\x40\x00\x00\x00\x00\x01\x00\x01\x00")
    assert (p.status, p.reason and p.reason.code) == ("quarantined", "truncated")
    assert fit_declared_length(head) == 12 + 0xFFFFFFF0 + 2


def test_fit_declared_length() -> None:
    data = activity_bytes(to_fit(datetime(2025, 1, 1, tzinfo=UTC)))
    assert fit_declared_length(data[:12]) == len(data)
    assert fit_declared_length(data[:11]) is None
    assert fit_declared_length(b"x" * 12) is None
    assert fit_is_complete(data) and not fit_is_complete(data[:-1])
    assert not fit_is_complete(b"")


def test_crc_matches_reference() -> None:
    # CRC-16/ARC check value; odd and even lengths take different code paths.
    assert fit_crc(b"123456789") == 0xBB3D
    assert fit_crc(b"12345678") == fit_crc(b"8", fit_crc(b"1234567"))


def test_parser_version_is_set() -> None:
    assert PARSER_VERSION


# ---------------------------------------------------------------------------------------------
# Properties: never raises, always the declared schemas

HANDMADE = activity_bytes(to_fit(datetime(2025, 3, 1, tzinfo=UTC)), n_records=20)
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(st.binary(max_size=600))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    assert_schemas(parse_fit(data, now=NOW))


@FAST
@given(st.binary(max_size=300))
def test_fit_header_then_noise_never_raises(noise: bytes) -> None:
    head = struct.pack("<BBHI4s", 12, 0x20, 2132, len(noise), b".FIT")
    assert_schemas(parse_fit(head + noise, now=NOW))


@FAST
@given(st.integers(0, len(HANDMADE)))
def test_truncations_never_raise(cut: int) -> None:
    p = parse_fit(HANDMADE[:cut], now=NOW)
    assert_schemas(p)
    if cut < len(HANDMADE):
        assert p.status != "stored"


@FAST
@given(st.lists(st.tuples(st.integers(0, len(HANDMADE) - 1), st.integers(1, 255)), max_size=4))
def test_byte_flips_never_raise(flips: list[tuple[int, int]]) -> None:
    data = bytearray(HANDMADE)
    for pos, mask in flips:
        data[pos] ^= mask
    p = parse_fit(bytes(data), now=NOW)
    assert_schemas(p)
    if flips and bytes(data) != HANDMADE:
        assert p.status != "stored" or p.warnings  # a change never passes silently


@pytest.mark.corpus
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_real_file_mutations_never_raise(corpus_dir: Path, data: st.DataObject) -> None:
    raw = bytearray(corpus_file(corpus_dir, "20748058539_ACTIVITY.fit"))
    cut = data.draw(st.integers(0, len(raw)))
    pos = data.draw(st.integers(0, len(raw) - 1))
    raw[pos] ^= data.draw(st.integers(1, 255))
    assert_schemas(parse_fit(bytes(raw[:cut]), now=NOW))
