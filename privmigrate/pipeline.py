"""The nightly run: load new inbox files, segment, invite, push audiences, track, report.

Orchestration only. Every step is journaled in the ledger (``run_steps``, one row per night
and step): a step that finished ``ok`` is not run again that night, so running twice changes
nothing and a run after a crash resumes at the first unfinished step. A failing step does not
stop independent steps; steps that need its output are skipped. The caller holds the lock.
"""

from __future__ import annotations

import json
import os
import shlex
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from privmigrate.clock import shanghai_now
from privmigrate.config import Section, read_config
from privmigrate.errors import ExitCode, PrivmigrateError
from privmigrate.ledger import open_ledger, transaction
from privmigrate.progress import NULL_PROGRESS, Progress
from privmigrate.workspace import Workspace

STEPS = ("load", "segment", "invite", "audience", "track", "report")
# A step runs only when the steps it needs succeeded tonight (or were not needed).
NEEDS: dict[str, tuple[str, ...]] = {
    "load": (),
    "segment": ("load",),
    "invite": ("segment",),
    "audience": ("segment",),
    "track": (),
    "report": (),
}
# Testing aid (documented): crash the process right after this step is journaled.
CRASH_AFTER_ENV = "PRIVMIGRATE_CRASH_AFTER_STEP"


@dataclass(frozen=True)
class RunSettings:
    """The ``[run]`` section of privmigrate.toml."""

    inbox: str = "inbox"
    steps: tuple[str, ...] = STEPS
    send: bool = False
    audiences: bool = True
    track: str = "files"  # "api", "files" or "off"
    track_files: str = "inbox/wecom/*"
    cron_time: str = "02:30"
    send_time: str = "09:30"

    @classmethod
    def from_config(cls, raw: dict[str, Any]) -> RunSettings:
        s = Section.of(raw, "run")
        s.unknown_keys(["inbox", "steps", "send", "audiences", "track", "track_files",
                        "cron_time", "send_time"])
        steps = s.get("steps", list, list(STEPS))
        for step in steps:
            if step not in STEPS:
                raise s.fail("steps", f"names unknown step {step!r}; steps: {', '.join(STEPS)}")
        cron_time = s.get("cron_time", str, cls.cron_time)
        send_time = s.get("send_time", str, cls.send_time)
        for key, value in (("cron_time", cron_time), ("send_time", send_time)):
            _hhmm(s, key, value)
        return cls(
            inbox=s.get("inbox", str, cls.inbox),
            steps=tuple(steps),
            send=s.get("send", bool, cls.send),
            audiences=s.get("audiences", bool, cls.audiences),
            track=s.choice("track", ("api", "files", "off"), cls.track),
            track_files=s.get("track_files", str, cls.track_files),
            cron_time=cron_time,
            send_time=send_time,
        )


def _hhmm(section: Section, key: str, value: str) -> tuple[int, int]:
    try:
        hh, mm = (int(x) for x in value.split(":"))
        if not (0 <= hh < 24 and 0 <= mm < 60):
            raise ValueError
    except ValueError:
        raise section.fail(key, f'must be a time like "02:30", got {value!r}') from None
    return hh, mm


@dataclass
class StepResult:
    step: str
    status: str  # ok, failed, skipped, done-earlier
    detail: dict[str, Any] | str = field(default_factory=dict)


@dataclass
class NightResult:
    night: str
    steps: list[StepResult]
    figures: dict[str, Any] | None = None  # track.metrics as of the night, after the steps

    @property
    def exit_code(self) -> ExitCode:
        """0 all steps fine, 3 some failed (or a step left some input out: ``partial``),
        1 (or 4 when remote) nothing succeeded."""
        failed = [s for s in self.steps if s.status in ("failed", "skipped")]
        good = [s for s in self.steps if s.status in ("ok", "done-earlier", "partial")]
        if not failed and not any(s.status == "partial" for s in self.steps):
            return ExitCode.OK
        if good:
            return ExitCode.PARTIAL
        return ExitCode.USER_ERROR

    def to_dict(self) -> dict[str, Any]:
        return {
            "night": self.night,
            "exit_code": int(self.exit_code),
            "steps": [{"step": s.step, "status": s.status, "detail": s.detail}
                      for s in self.steps],
            "figures": self.figures,
        }


def run_night(
    ws: Workspace,
    night: date,
    *,
    now: datetime,
    dry_run: bool = False,
    progress: Progress = NULL_PROGRESS,
) -> NightResult:
    """Run (or resume) the night. The caller holds ``ws.lock``."""
    settings = RunSettings.from_config(read_config(ws.config_path))
    steps: list[StepResult] = []
    done = _done_steps(ws, night)
    outcome: dict[str, str] = {}
    carry: dict[str, Any] = {}
    for step in STEPS:
        if step not in settings.steps or (step == "audience" and not settings.audiences) or (
            step == "track" and settings.track == "off"
        ):
            outcome[step] = "ok"
            continue
        if step in done and not dry_run:
            steps.append(StepResult(step, "done-earlier", done[step]))
            outcome[step] = "ok"
            continue
        blocked = [n for n in NEEDS[step] if outcome.get(n) not in (None, "ok")]
        if blocked:
            steps.append(StepResult(step, "skipped", f"needs {', '.join(blocked)}"))
            outcome[step] = "skipped"
            continue
        result = _run_step(ws, step, night, now, settings, dry_run, progress, carry)
        steps.append(result)
        outcome[step] = "ok" if result.status in ("ok", "partial") else "failed"
        if os.environ.get(CRASH_AFTER_ENV) == step:
            os._exit(9)  # simulate a crash (kill -9) between steps; see docs/run.md
    return NightResult(night.isoformat(), steps, _figures(ws, night))


def _figures(ws: Workspace, night: date) -> dict[str, Any] | None:
    """The night's figures (``track.metrics``), as track and the report show them."""
    from privmigrate.track.run import measure_workspace

    try:
        return measure_workspace(ws, night).figures.to_dict()
    except PrivmigrateError:
        return None  # a damaged input is already a failed step


def _run_step(ws: Workspace, step: str, night: date, now: datetime, settings: RunSettings,
              dry_run: bool, progress: Progress, carry: dict[str, Any]) -> StepResult:
    started = shanghai_now().isoformat(timespec="seconds")
    if not dry_run:
        _journal(ws, night, step, "started", started, None, None)
    try:
        detail = STEP_FUNCTIONS[step](ws, night, now, settings, dry_run, progress, carry)
    except PrivmigrateError as exc:
        if not dry_run:
            _journal(ws, night, step, "failed", started, _now(), exc.message)
        return StepResult(step, "failed", exc.message)
    except Exception as exc:  # a bug: record it, keep the other steps going
        message = f"internal error: {type(exc).__name__}: {exc}"
        if not dry_run:
            _journal(ws, night, step, "failed", started, _now(),
                     message + "\n" + traceback.format_exc(limit=8))
        return StepResult(step, "failed", message)
    if not dry_run:
        _journal(ws, night, step, "ok", started, _now(), json.dumps(detail, default=str,
                                                                    ensure_ascii=False))
    # a step that did its work but left some input out (a bad inbox file) is "partial":
    # later steps run, the night exits 3
    return StepResult(step, "partial" if detail.get(PARTIAL_KEY) else "ok", detail)


def _now() -> str:
    return shanghai_now().isoformat(timespec="seconds")


def _done_steps(ws: Workspace, night: date) -> dict[str, Any]:
    with open_ledger(ws.state_db) as conn:
        rows = conn.execute(
            "SELECT step, detail FROM run_steps WHERE night = ? AND status = 'ok'",
            (night.isoformat(),),
        ).fetchall()
    out: dict[str, Any] = {}
    for row in rows:
        try:
            out[row["step"]] = json.loads(row["detail"] or "{}")
        except json.JSONDecodeError:
            out[row["step"]] = {}
    return out


def _journal(ws: Workspace, night: date, step: str, status: str, started: str,
             finished: str | None, detail: str | None) -> None:
    with open_ledger(ws.state_db) as conn, transaction(conn):
        conn.execute(
            "INSERT INTO run_steps (night, step, status, started_at, finished_at, detail) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (night, step) DO UPDATE SET "
            "status = excluded.status, started_at = excluded.started_at, "
            "finished_at = excluded.finished_at, detail = excluded.detail",
            (night.isoformat(), step, status, started, finished, detail),
        )


# ---------------------------------------------------------------- the steps

# The last argument carries in-memory results from one step to a later one in the same
# process (load's table to segment), so a night does not re-read what it just wrote.
StepFn = Callable[[Workspace, date, datetime, RunSettings, bool, Progress, dict[str, Any]],
                  dict[str, Any]]


# A step's detail lists under this key what it had to leave out (the step is "partial").
PARTIAL_KEY = "not_loaded"
REJECTED_DIR = "rejected"  # inside the inbox: files that could not be loaded, with a reason
_IMAGE_OR_DOC = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".heic", ".pdf", ".doc",
                 ".docx", ".ppt", ".pptx", ".zip", ".rar", ".7z", ".md", ".json", ".log"}


def inbox_files(ws: Workspace, inbox: Path) -> tuple[list[Path], list[str]]:
    """(new export files, notes on the files that are not exports and are left alone).

    A file with an export suffix is an export candidate; a ``.txt`` is one only when its
    first line reads like a table header (说明.txt is not). Files already loaded (by
    SHA-256), hidden and lock files, and ``inbox/rejected/`` are not looked at.
    """
    from privmigrate.ingest.load import file_sha256
    from privmigrate.ingest.readers import CSV_SUFFIXES, EXCEL_SUFFIXES

    if not inbox.is_dir():
        return [], []
    with open_ledger(ws.state_db) as conn:
        known = {r[0] for r in conn.execute("SELECT sha256 FROM loaded_files")}
    files: list[Path] = []
    notes: list[str] = []
    for p in sorted(inbox.iterdir()):
        if not p.is_file() or p.name.startswith((".", "~$")):
            continue
        suffix = p.suffix.lower()
        if suffix not in CSV_SUFFIXES | EXCEL_SUFFIXES:
            what = "an image or document" if suffix in _IMAGE_OR_DOC else "not an export file"
            notes.append(f"{p.name}: skipped, {what} (exports are CSV or Excel)")
            continue
        if suffix == ".txt" and not _looks_tabular(p):
            notes.append(f"{p.name}: skipped, a text file without a table header")
            continue
        if file_sha256(p) not in known:
            files.append(p)
    return files, notes


def _looks_tabular(path: Path) -> bool:
    """Whether a .txt's first line splits into several cells (an export saved as .txt)."""
    with path.open("rb") as fh:
        head = fh.read(4096)
    first = head.splitlines()[0] if head else b""
    return any(first.count(sep) >= 2 for sep in (b",", b"\t", b";", b"|",
                                                 ",".encode("utf-16-le")))


def reject_inbox_file(inbox: Path, path: Path, reason: str) -> Path:
    """Move a file that cannot be loaded to ``inbox/rejected/`` with ``<name>.reason.txt``
    beside it, so the next night does not try it again and the user sees why."""
    target_dir = inbox / REJECTED_DIR
    target_dir.mkdir(exist_ok=True)
    target = target_dir / path.name
    n = 1
    while target.exists():  # a file of the same name rejected another night
        target = target_dir / f"{path.stem}.{n}{path.suffix}"
        n += 1
    path.replace(target)
    target.with_name(target.name + ".reason.txt").write_text(
        f"{reason}\n\nFix the file (or export it again) and put it back into {inbox}.\n",
        encoding="utf-8")
    return target


def _step_load(ws: Workspace, night: date, now: datetime, settings: RunSettings,
               dry_run: bool, progress: Progress, carry: dict[str, Any]) -> dict[str, Any]:
    from privmigrate.ingest.load import FilesUnusable, load_files

    inbox = (ws.root / settings.inbox).resolve()
    files, notes = inbox_files(ws, inbox)
    skipped = {"skipped": notes} if notes else {}
    if not files:
        return {"files": 0, "note": f"no new files in {inbox}", **skipped}
    if dry_run:
        return {"files": len(files), "would_load": [p.name for p in files], **skipped}
    try:
        if "segment" in settings.steps:
            # score while orders.parquet is being written (the encoder runs without the
            # GIL); the segment step publishes the result, so each step still writes only
            # its own files
            from privmigrate.scoring.run import score_workspace

            summary = load_files(
                ws, files, progress=progress, skip_bad_files=True,
                while_writing=lambda kept: score_workspace(ws, night, None, kept))
            carry["scored"] = (summary.during_write, summary.during_write_error)
        else:
            summary = load_files(ws, files, progress=progress, skip_bad_files=True)
    except FilesUnusable as exc:  # not one file could be loaded: the table stays as it was
        bad = exc.bad
        result: dict[str, Any] = {"files": 0, "new_orders": 0}
    else:
        bad = summary.bad_files
        result = {"files": len(files) - len(bad), "new_orders": summary.new_orders,
                  "orders_total": summary.orders_total, "rejected": summary.rejected,
                  "reexported": summary.reexported}
    if bad:
        for b in bad:
            reject_inbox_file(inbox, Path(b.file), b.reason)
        result[PARTIAL_KEY] = [f"{Path(b.file).name} → {REJECTED_DIR}/: {b.reason}"
                               for b in bad]
    return {**result, **skipped}


def _step_segment(ws: Workspace, night: date, now: datetime, settings: RunSettings,
                  dry_run: bool, progress: Progress, carry: dict[str, Any]) -> dict[str, Any]:
    from privmigrate.scoring.run import publish_scored, segment_workspace

    if dry_run:
        return {"note": "would rebuild data/customers.parquet"}
    scored = carry.pop("scored", None)
    if scored is None:  # nothing loaded tonight, or resumed after a crash: read the orders
        return segment_workspace(ws, night, None, None, False)
    customers, error = scored
    if error is not None:
        raise error
    return publish_scored(ws, customers, night)


def _step_invite(ws: Workspace, night: date, now: datetime, settings: RunSettings,
                 dry_run: bool, progress: Progress, carry: dict[str, Any]) -> dict[str, Any]:
    from privmigrate.invite.night import run_invite
    from privmigrate.invite.settings import InviteSettings
    from privmigrate.invite.window import is_open

    if dry_run and not ws.customers_path.exists():
        return {"note": "would plan the night after segment has run"}
    send = settings.send and not dry_run
    if send and not is_open(now, InviteSettings.from_config(read_config(ws.config_path)).window):
        send = False  # planned tonight; the morning cron line sends (see run --print-cron)
    result = run_invite(ws, night, now=now, dry_run=dry_run, send=send, progress=progress)
    return _compact(result)


def _step_audience(ws: Workspace, night: date, now: datetime, settings: RunSettings,
                   dry_run: bool, progress: Progress, carry: dict[str, Any]) -> dict[str, Any]:
    from privmigrate.audience.run import push_configured_audiences

    if dry_run and not ws.customers_path.exists():
        return {"note": "would push audiences after segment has run"}
    return _compact(push_configured_audiences(ws, dry_run=dry_run, now=now, progress=progress))


def _step_track(ws: Workspace, night: date, now: datetime, settings: RunSettings,
                dry_run: bool, progress: Progress, carry: dict[str, Any]) -> dict[str, Any]:
    from privmigrate.track.run import run_track

    if settings.track == "api":
        return _compact(run_track(ws, None, from_api=True, now=now, progress=progress,
                                  dry_run=dry_run, as_of=night))
    files = sorted(p for p in ws.root.glob(settings.track_files) if p.is_file())
    if not files:
        return {"note": f"no WeCom files match {settings.track_files}"}
    return _compact(run_track(ws, files, from_api=False, now=now, progress=progress,
                              dry_run=dry_run, as_of=night))


def _step_report(ws: Workspace, night: date, now: datetime, settings: RunSettings,
                 dry_run: bool, progress: Progress, carry: dict[str, Any]) -> dict[str, Any]:
    from privmigrate.report import write_report
    from privmigrate.report.settings import report_settings

    if dry_run:
        return {"note": "would write the workbook"}
    if not ws.customers_path.exists():
        raise PrivmigrateError("no customers yet: load exports and run segment first")
    report = report_settings(read_config(ws.config_path))
    result = write_report(ws, None, report.lang, as_of=night, progress=progress,
                          latest=report.latest)
    return {"path": result.get("path"), "warnings": result["warnings"]}


def _compact(result: Any) -> dict[str, Any]:
    """A JSON-able, short summary for the journal (no per-customer lists)."""
    if not isinstance(result, dict):
        return {"result": str(result)}
    out: dict[str, Any] = {}
    for key, value in result.items():
        if isinstance(value, list) and len(value) > 20:
            out[key] = f"{len(value)} items"
        else:
            out[key] = value
    return json.loads(json.dumps(out, default=str))


STEP_FUNCTIONS: dict[str, StepFn] = {
    "load": _step_load,
    "segment": _step_segment,
    "invite": _step_invite,
    "audience": _step_audience,
    "track": _step_track,
    "report": _step_report,
}


def cron_lines(ws: Workspace, executable: str, settings: RunSettings) -> list[str]:
    """The crontab lines for this workspace (times are Asia/Shanghai via CRON_TZ)."""
    hh, mm = (int(x) for x in settings.cron_time.split(":"))
    root = cron_quote(str(ws.root))
    lines = ["CRON_TZ=Asia/Shanghai",
             f"{mm} {hh} * * * {executable} run --workspace {root}"]
    if settings.send:
        sh, sm = (int(x) for x in settings.send_time.split(":"))
        lines.append(f"{sm} {sh} * * * {executable} invite --send --workspace {root}")
    return lines


def cron_quote(word: str) -> str:
    """One shell word for a crontab command: quoted for sh, and % escaped (cron reads an
    unescaped % as the end of the command)."""
    return shlex.quote(word).replace("%", "\\%")
