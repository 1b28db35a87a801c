"""Where logs go and in which form."""

from __future__ import annotations

import io
import json
import logging
import stat
from pathlib import Path

import pytest
import structlog

from connector.logging_setup import configure_logging, get_logger

from .conftest import Output, TTYStream


def test_json_lines_when_the_stream_is_not_a_terminal(json_out: Output) -> None:
    get_logger("connector.test").info("planner_opened", group="71003", slots=12)
    line = json_out.last()
    assert line["event"] == "planner_opened"
    assert line["level"] == "info"
    assert line["logger"] == "connector.test"
    assert line["group"] == "71003" and line["slots"] == 12
    assert line["timestamp"].endswith("Z")


def test_readable_lines_on_a_terminal() -> None:
    stream = TTYStream()
    configure_logging(stream=stream)
    get_logger().info("planner_opened", group="71003")
    assert "planner_opened" in stream.getvalue()
    with pytest.raises(json.JSONDecodeError):
        json.loads(stream.getvalue())


@pytest.mark.parametrize(
    ("stream_cls", "forced", "expect_json"),
    [
        (TTYStream, True, True),
        (io.StringIO, False, False),
    ],
)
def test_the_json_argument_overrides_detection(stream_cls, forced, expect_json) -> None:
    stream = stream_cls()
    configure_logging(stream=stream, json=forced)
    get_logger().info("hello")
    text = stream.getvalue().strip()
    assert text.startswith("{") is expect_json


def test_configuring_twice_does_not_log_twice() -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging(stream=first)
    configure_logging(stream=second)
    get_logger().info("once")
    logging.getLogger("alembic").warning("once too")
    assert first.getvalue() == ""
    assert len(Output(second).lines()) == 2


def test_level_filters_structlog_and_stdlib() -> None:
    stream = io.StringIO()
    configure_logging(level="warning", stream=stream)
    get_logger().info("quiet")
    logging.getLogger("alembic").info("quiet")
    get_logger().warning("loud")
    assert [line["event"] for line in Output(stream).lines()] == ["loud"]


def test_an_unknown_level_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown log level"):
        configure_logging(level="chatty", stream=io.StringIO())


def test_stdlib_loggers_pass_through_the_same_processors(json_out: Output) -> None:
    logging.getLogger("apscheduler.scheduler").warning("Run time of job %s was missed", "tick")
    line = json_out.last()
    assert line["event"] == "Run time of job tick was missed"
    assert line["logger"] == "apscheduler.scheduler"
    assert line["level"] == "warning"
    assert "timestamp" in line


def test_apscheduler_chatter_is_not_logged(json_out: Output) -> None:
    """Its INFO lines ("Adding job tentatively", "Scheduler started") say nothing an operator needs."""
    logging.getLogger("apscheduler.scheduler").info("Adding job tentatively -- it will be properly scheduled")
    logging.getLogger("apscheduler.scheduler").info("Scheduler started")
    assert json_out.lines() == []


def test_without_a_file_lines_go_to_stdout_only(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging()
    get_logger().info("planner_opened", group="71003")
    out, err = capsys.readouterr()
    assert json.loads(out)["event"] == "planner_opened" and err == ""


def test_with_a_file_lines_go_to_the_file_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log_file = tmp_path / "connector.jsonl"
    configure_logging(log_file=log_file)
    get_logger().warning("postponed", task="roster:12AB00")
    out, err = capsys.readouterr()
    assert (out, err) == ("", "")
    assert [json.loads(line)["event"] for line in log_file.read_text().splitlines()] == ["postponed"]


def test_urllib3_and_sqlalchemy_debug_stays_silent(json_out: Output) -> None:
    logging.getLogger("urllib3.connectionpool").debug("GET /v1/planners?cursor=abc")
    logging.getLogger("sqlalchemy.engine.Engine").info("INSERT INTO pupils ...")
    logging.getLogger("urllib3.connectionpool").warning("Retrying")
    assert [line["event"] for line in json_out.lines()] == ["Retrying"]


def test_bound_contextvars_reach_structlog_and_stdlib_lines(json_out: Output) -> None:
    with structlog.contextvars.bound_contextvars(run_id="6f1c2d3e-aaaa-4bbb-8ccc-123456789abc"):
        get_logger().info("sync_started")
        logging.getLogger("alembic").warning("job running")
    get_logger().info("after")
    lines = json_out.lines()
    assert [line.get("run_id") for line in lines] == [
        "6f1c2d3e-aaaa-4bbb-8ccc-123456789abc",
        "6f1c2d3e-aaaa-4bbb-8ccc-123456789abc",
        None,
    ]


def test_rotating_log_file_is_json_and_private(tmp_path: Path) -> None:
    log_file = tmp_path / "logs" / "connector.log"
    configure_logging(stream=io.StringIO(), log_file=log_file, max_bytes=400, backup_count=2)
    log = get_logger()
    for i in range(20):
        log.info("tick", i=i, email="sanne@example.nl")
    files = sorted(log_file.parent.iterdir())
    assert [f.name for f in files] == ["connector.log", "connector.log.1", "connector.log.2"]
    for f in files:
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f.name
        for raw in f.read_text().splitlines():
            assert json.loads(raw)["email"] == "[redacted]"
    assert stat.S_IMODE(log_file.parent.stat().st_mode) == 0o700


def test_the_log_file_formats_and_redacts_each_line_once_also_when_it_rotates(tmp_path: Path, monkeypatch) -> None:
    """The stdlib's rollover check formats a record to measure it; the line written is that same text."""
    from connector import logging_setup

    log_file = tmp_path / "connector.log"
    configure_logging(stream=io.StringIO(), log_file=log_file, max_bytes=400, backup_count=1)
    [handler] = [h for h in logging.getLogger().handlers if isinstance(h, logging_setup.PrivateRotatingFileHandler)]
    formatted: list[str] = []
    format_once = handler.formatter.format  # type: ignore[union-attr]
    monkeypatch.setattr(
        handler.formatter, "format", lambda record: formatted.append(format_once(record)) or formatted[-1]
    )
    for i in range(12):
        get_logger().info("tick", i=i, email="sanne@example.nl")
    lines = [json.loads(raw) for f in (tmp_path / "connector.log.1", log_file) for raw in f.read_text().splitlines()]
    assert len(formatted) == 12 and [line["i"] for line in lines][-1] == 11  # rotated, each line formatted once
    assert {line["email"] for line in lines} == {"[redacted]"}


def test_the_log_file_is_json_even_on_a_terminal(tmp_path: Path) -> None:
    log_file = tmp_path / "connector.log"
    configure_logging(stream=TTYStream(), log_file=log_file)
    get_logger().info("hello")
    assert json.loads(log_file.read_text())["event"] == "hello"


def test_capture_logs_works_after_configuration(json_out: Output) -> None:
    log = get_logger()
    with structlog.testing.capture_logs() as captured:
        log.info("planner_opened", group="71003")
    assert captured == [{"event": "planner_opened", "group": "71003", "log_level": "info"}]
