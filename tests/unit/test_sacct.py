"""Reading ``sacct --parsable2`` output (compute/sacct.py): fields, GPUs from AllocTRES, errors, streaming."""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aicommons.compute.sacct import (
    SACCT_ARGUMENTS,
    SacctLineError,
    UsageRecord,
    aggregate,
    format_line,
    gpus_in_tres,
    parse_line,
    parse_lines,
)

LINE = "4|de_p42|COMPLETED|2025-06-01T12:00:00|2025-06-01T12:00:02|2|billing=1,cpu=1,gres/gpu=2,node=1"


def test_the_command_asks_for_the_fields_we_read():
    assert SACCT_ARGUMENTS == ("sacct", "--parsable2", "--noheader", "--allocations",
                               "--format=JobID,Account,State,Start,End,ElapsedRaw,AllocTRES")


def test_a_completed_job_on_two_gpus():
    record = parse_line(LINE + "\n")
    assert record == UsageRecord("4", "de_p42", "COMPLETED", datetime(2025, 6, 1, 12, 0, tzinfo=UTC),
                                 datetime(2025, 6, 1, 12, 0, 2, tzinfo=UTC), 2, 2, 4)
    assert record.start.tzinfo is UTC


@pytest.mark.parametrize(("tres", "gpus"), [
    ("billing=1,cpu=1,gres/gpu=2,node=1", 2),
    ("billing=8,cpu=8,gres/gpu:a100=4,gres/gpu=4,mem=64G,node=1", 4),  # typed items repeat the untyped count
    ("cpu=8,gres/gpu:a100=1,gres/gpu:h100=2,node=1", 3),  # typed only: their sum
    ("billing=1,cpu=1,mem=4000M,node=1", 0),
    ("", 0),
    ("gres/gpumem=40G,gres/gpu=1", 1),  # another GRES whose name starts like gpu is not GPUs
])
def test_gpus_come_from_the_gres_gpu_item(tres, gpus):
    assert gpus_in_tres(tres) == gpus


def test_times_without_a_zone_are_read_in_the_given_zone_and_returned_in_utc():
    line = "7|fr_p1|RUNNING|2025-06-01T14:00:00|Unknown|60|gres/gpu=1"
    record = parse_line(line, tz=ZoneInfo("Europe/Berlin"))
    assert record.start == datetime(2025, 6, 1, 12, 0, tzinfo=UTC) and record.start.tzinfo is UTC
    assert record.end is None
    assert parse_line(line, tz=timezone(timedelta(hours=-5))).start == datetime(2025, 6, 1, 19, 0, tzinfo=UTC)
    pending = parse_line("8|fr_p1|PENDING|None|None|0|")
    assert (pending.start, pending.end, pending.gpu_seconds) == (None, None, 0)


def test_states_keep_their_base_word():
    assert parse_line("9|de_p42|CANCELLED by 1000|Unknown|Unknown|0|").state == "CANCELLED"
    assert parse_line("9|de_p42|OUT_OF_MEMORY|Unknown|Unknown|0|").state == "OUT_OF_MEMORY"


@pytest.mark.parametrize("job_id", ["123", "123_4", "123_[1-9%2]", "123+0", "123_4+1"])
def test_allocation_ids_are_kept_as_text(job_id):
    assert parse_line(f"{job_id}|a|COMPLETED|Unknown|Unknown|1|gres/gpu=1").job_id == job_id


@pytest.mark.parametrize(("line", "field"), [
    ("4|de_p42|COMPLETED|2025-06-01T12:00:00|2025-06-01T12:00:02|2", "line"),
    (LINE + "|", "line"),
    (LINE.replace("4|", "4.batch|", 1), "JobID"),
    (LINE.replace("4|", "x4|", 1), "JobID"),
    (LINE.replace("de_p42", ""), "Account"),
    (LINE.replace("COMPLETED", "completed"), "State"),
    (LINE.replace("|2|", "|-2|"), "ElapsedRaw"),
    (LINE.replace("|2|", "|2.5|"), "ElapsedRaw"),
    (LINE.replace("|2|", "||"), "ElapsedRaw"),
    (LINE.replace("2025-06-01T12:00:00", "2025-06-01 12:00:00"), "Start"),
    (LINE.replace("2025-06-01T12:00:02", "2025-06-31T12:00:02"), "End"),
    (LINE.replace("2025-06-01T12:00:02", "2025-06-01"), "End"),
    (LINE.replace("gres/gpu=2", "gres/gpu=two"), "AllocTRES"),
    (LINE.replace("gres/gpu=2", "gres/gpu"), "AllocTRES"),
    (LINE.replace("gres/gpu=2", "gres/gpu:a100=-1"), "AllocTRES"),
])
def test_malformed_lines_name_the_line_and_field(line, field):
    with pytest.raises(SacctLineError) as caught:
        list(parse_lines(["", LINE, line]))
    assert isinstance(caught.value, ValueError)
    assert (caught.value.line_number, caught.value.field) == (3, field)
    assert str(caught.value).startswith(f"sacct line 3, {field}: ")


def test_errors_can_be_collected_instead_and_blank_lines_are_skipped():
    errors: list[SacctLineError] = []
    records = list(parse_lines([LINE, "\n", "garbage", LINE.replace("4|", "5|", 1), "  "], errors=errors))
    assert [r.job_id for r in records] == ["4", "5"]
    assert [(e.line_number, e.field) for e in errors] == [(3, "line")]


def test_parsing_is_lazy_so_memory_stays_flat():
    endless = (LINE.replace("4|", f"{n}|", 1) for n in itertools.count(1))
    assert [r.job_id for r in itertools.islice(parse_lines(endless), 3)] == ["1", "2", "3"]


def test_aggregate_sums_gpu_seconds_per_account_including_zero():
    lines = [LINE, LINE.replace("|2|", "|10|"), "5|fr_p1|COMPLETED|Unknown|Unknown|100|cpu=1"]
    assert aggregate(parse_lines(lines)) == {"de_p42": 4 + 20, "fr_p1": 0}
    assert aggregate([]) == {}


# --- properties ------------------------------------------------------------------------------------------------

job_ids = st.one_of(st.integers(1, 10**9).map(str),
                    st.tuples(st.integers(1, 10**9), st.integers(0, 10**4)).map(lambda t: f"{t[0]}_{t[1]}"),
                    st.tuples(st.integers(1, 10**9), st.integers(0, 9)).map(lambda t: f"{t[0]}+{t[1]}"))
accounts = st.from_regex(r"[a-z][a-z0-9_]{0,20}", fullmatch=True)
states = st.sampled_from(["COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "RUNNING", "PENDING", "NODE_FAIL",
                          "OUT_OF_MEMORY", "PREEMPTED"])
moments = st.one_of(st.none(), st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31))
                    .map(lambda d: d.replace(microsecond=0, tzinfo=UTC)))
zones = st.sampled_from([UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-9, minutes=-30))])


@st.composite
def records(draw):
    elapsed, gpus = draw(st.integers(0, 10**8)), draw(st.integers(0, 64))
    return UsageRecord(draw(job_ids), draw(accounts), draw(states), draw(moments), draw(moments), elapsed, gpus,
                       elapsed * gpus)


@given(records(), zones, st.sampled_from(["billing=1,cpu=1", "", "cpu=64,gres/gpu:h100=9,mem=512G"]))
def test_round_trip_record_to_line_and_back(record, zone, other_tres):
    if "gres/gpu:" in other_tres and not record.gpus:
        other_tres = "cpu=64"  # typed GPUs without the untyped item would count as GPUs
    assert parse_line(format_line(record, tz=zone, other_tres=other_tres), tz=zone) == record


@given(st.lists(records(), max_size=40))
def test_aggregate_of_the_parsed_lines_is_the_sum_per_account(generated):
    expected: dict[str, int] = defaultdict(int)
    for record in generated:
        expected[record.account] += record.elapsed_seconds * record.gpus
    assert aggregate(parse_lines(format_line(r) + "\n" for r in generated)) == expected


@given(st.text(alphabet=st.sampled_from("0123456789|_-+.:=,/ TabcgpuresUnknowCMPLETD\r\n"), max_size=80))
def test_any_line_parses_or_raises_the_line_error(line):
    try:
        record = parse_line(line)
    except SacctLineError as error:
        assert error.line_number == 1
    else:
        assert record.gpu_seconds == record.elapsed_seconds * record.gpus >= 0
