"""EventBridge Scheduler's cron expressions, evaluated in Python.

LocalStack stores the loader's schedules but never fires them, so the harness needs
its own answer to "would the schedule run now?": `harness clock show` lists the next
runs, `harness clock tick --respect-window` skips a tick no schedule would make, and
the tests assert that 07:00, 20:59 and 21:00 Seoul time fire and 06:59 and 21:01 do
not.

The seed's "every minute from 07:00 to 21:00" is read inclusively: 21:00 runs. One
cron expression cannot say that (`* 7-21` would also run 21:01-21:59), so the catalog
module deploys two schedules with the same target, `cron(* 7-20 * * ? *)` and
`cron(0 21 * * ? *)`, from its `schedule_first_hour` / `schedule_last_hour`
variables; `LoaderSchedule` is their union. `window_expressions` builds the two
expressions as the module does (a unit test and the module's own test pin both to
the same strings); at run time the expressions are read from the deployed schedules.

Supported: AWS's six fields (minutes hours day-of-month month day-of-week year)
with `*`, `?`, values, ranges `a-b`, lists `a,b`, steps `x/n`, month names
(JAN-DEC) and day names (SUN-SAT, 1 = Sunday). `L`, `W` and `#` raise: the
project does not use them and a wrong answer would be worse than none.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from harness.util.errors import HarnessError

CRON_RE = re.compile(r"^cron\((?P<fields>[^)]*)\)$")
MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
MONTHS = {m: i for i, m in enumerate(MONTH_NAMES, 1)}
DAYS = {d: i for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], 1)}
# (name, lowest, highest, names)
FIELDS = (
    ("minutes", 0, 59, {}),
    ("hours", 0, 23, {}),
    ("day-of-month", 1, 31, {}),
    ("month", 1, 12, MONTHS),
    ("day-of-week", 1, 7, DAYS),
    ("year", 1970, 2199, {}),
)
MODULE_VARIABLES = Path("infra/modules/catalog/variables.tf")


def _value(token: str, field: tuple) -> int:
    name, low, high, names = field
    number = names.get(token.upper()) if not token.isdigit() else int(token)
    if number is None or not low <= number <= high:
        raise HarnessError(f"cron {name} value {token!r} is not in {low}-{high}")
    return number


def _field(text: str, field: tuple) -> frozenset[int] | None:
    """The values a field allows; None for `?` (no constraint from this field)."""
    name, low, high, _ = field
    if text == "?":
        if name not in ("day-of-month", "day-of-week"):
            raise HarnessError(
                f"cron: `?` is only allowed in day-of-month or day-of-week, not {name}"
            )
        return None
    if any(c in text for c in "LW#"):
        raise HarnessError(f"cron {name} {text!r}: L, W and # are not supported by this evaluator")
    values: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if step_text and (not step_text.isdigit() or step < 1):
            raise HarnessError(f"cron {name} step {step_text!r} is not a positive number")
        if base == "*":
            first, last = low, high
        elif "-" in base:
            first_text, last_text = base.split("-", 1)
            first, last = _value(first_text, field), _value(last_text, field)
            if first > last:
                raise HarnessError(f"cron {name} range {base!r} runs backwards")
        else:
            first = _value(base, field)
            last = high if step_text else first
        values.update(range(first, last + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class CronSchedule:
    expression: str
    timezone: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int] | None
    months: frozenset[int]
    weekdays: frozenset[int] | None  # 1 = Sunday ... 7 = Saturday, as in AWS cron
    years: frozenset[int]

    @classmethod
    def parse(cls, expression: str, timezone: str = "UTC") -> CronSchedule:
        match = CRON_RE.match(expression.strip())
        if not match:
            raise HarnessError(f"{expression!r} is not a cron(...) expression")
        parts = match["fields"].split()
        if len(parts) != 6:
            raise HarnessError(
                f"{expression!r} has {len(parts)} fields; AWS cron has 6: "
                "minutes hours day-of-month month day-of-week year"
            )
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise HarnessError(f"time zone {timezone!r} is unknown") from exc
        values = [_field(text, field) for text, field in zip(parts, FIELDS, strict=True)]
        if (values[2] is None) == (values[4] is None):
            raise HarnessError(
                f"{expression!r}: exactly one of day-of-month and day-of-week must be `?`"
            )
        return cls(expression, timezone, *values)  # type: ignore[arg-type]

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def _day_matches(self, day: date) -> bool:
        if day.month not in self.months or day.year not in self.years:
            return False
        if self.days is not None:
            return day.day in self.days
        aws_weekday = (day.isoweekday() % 7) + 1  # Monday=1 -> 2, Sunday=7 -> 1
        return aws_weekday in (self.weekdays or frozenset())

    def fires_at(self, moment: datetime) -> bool:
        """Whether the schedule runs in the minute containing `moment` (an aware time)."""
        if moment.tzinfo is None:
            raise ValueError("fires_at needs an aware datetime (with a time zone)")
        local = moment.astimezone(self.zone)
        return (
            local.minute in self.minutes
            and local.hour in self.hours
            and self._day_matches(local.date())
        )

    def next_fires(self, after: datetime, count: int = 1) -> list[datetime]:
        """The next `count` run times strictly after `after`, in the schedule's zone."""
        if after.tzinfo is None:
            raise ValueError("next_fires needs an aware datetime (with a time zone)")
        start = after.astimezone(self.zone).replace(second=0, microsecond=0)
        found: list[datetime] = []
        day = start.date()
        for _ in range(366 * 5):
            if self._day_matches(day):
                for hour in sorted(self.hours):
                    for minute in sorted(self.minutes):
                        local = datetime(
                            day.year, day.month, day.day, hour, minute, tzinfo=self.zone
                        )
                        # Round-trip through UTC: wall times in a DST gap do not exist.
                        if local <= start or local.astimezone(UTC).astimezone(self.zone) != local:
                            continue
                        found.append(local)
                        if len(found) == count:
                            return found
            day += timedelta(days=1)
        return found


@dataclass(frozen=True)
class Run:
    """One run of the loader: when, and which schedule starts it."""

    at: datetime  # in the schedules' time zone
    schedule: str  # the schedule's name (or its expression when it has none)


@dataclass(frozen=True)
class LoaderSchedule:
    """The loader's schedules together: it runs whenever any of them fires.

    Every schedule must be in the same time zone (the module deploys them so).
    """

    crons: tuple[CronSchedule, ...]
    names: tuple[str, ...]

    @classmethod
    def of(cls, schedules: list[tuple[str, CronSchedule]]) -> LoaderSchedule:
        if not schedules:
            raise HarnessError("the loader has no schedule")
        zones = {cron.timezone for _, cron in schedules}
        if len(zones) > 1:
            raise HarnessError(f"the loader's schedules are in different time zones: {zones}")
        return cls(tuple(cron for _, cron in schedules), tuple(name for name, _ in schedules))

    @property
    def timezone(self) -> str:
        return self.crons[0].timezone

    @property
    def zone(self) -> ZoneInfo:
        return self.crons[0].zone

    @property
    def expression(self) -> str:
        """The expressions, joined: `cron(* 7-20 * * ? *) + cron(0 21 * * ? *)`."""
        return " + ".join(cron.expression for cron in self.crons)

    def fires_at(self, moment: datetime) -> bool:
        return bool(self.firing(moment))

    def firing(self, moment: datetime) -> list[str]:
        """The names of the schedules that run in the minute containing `moment`."""
        return [
            name for name, cron in zip(self.names, self.crons, strict=True) if cron.fires_at(moment)
        ]

    def next_runs(self, after: datetime, count: int = 1) -> list[Run]:
        """The next `count` runs strictly after `after`, earliest first; a minute two
        schedules share is one run (the first schedule's)."""
        runs: dict[datetime, str] = {}
        for name, cron in zip(self.names, self.crons, strict=True):
            for moment in cron.next_fires(after, count):
                runs.setdefault(moment, name)
        return [Run(at, runs[at]) for at in sorted(runs)[:count]]

    def next_fires(self, after: datetime, count: int = 1) -> list[datetime]:
        """Like CronSchedule.next_fires, over every schedule."""
        return [run.at for run in self.next_runs(after, count)]


def window_expressions(first_hour: int, last_hour: int) -> tuple[str, str]:
    """The catalog module's two expressions for "every minute from first_hour:00 to
    last_hour:00 inclusive": every minute of the hours before the last one, and the
    last hour's :00 (modules/catalog/main.tf, `local.schedules`)."""
    for name, hour in (("first", first_hour), ("last", last_hour)):
        if not 0 <= hour <= 23:
            raise HarnessError(f"the window's {name} hour must be from 0 to 23, not {hour}")
    if first_hour >= last_hour:
        raise HarnessError(
            f"the window's first hour ({first_hour}) must be before its last ({last_hour})"
        )
    hours = f"{first_hour}-{last_hour - 1}" if last_hour - 1 > first_hour else str(first_hour)
    return f"cron(* {hours} * * ? *)", f"cron(0 {last_hour} * * ? *)"


def window(first_hour: int, last_hour: int, timezone: str) -> LoaderSchedule:
    every_minute, last_run = window_expressions(first_hour, last_hour)
    return LoaderSchedule.of(
        [
            ("every_minute", CronSchedule.parse(every_minute, timezone)),
            ("last_run", CronSchedule.parse(last_run, timezone)),
        ]
    )


def _variable_block(variables_tf: Path, name: str) -> str:
    text = variables_tf.read_text()
    block = re.search(rf'variable\s+"{re.escape(name)}"\s*{{(.*?)\n}}', text, re.S)
    return block.group(1) if block else ""


def variable_default(variables_tf: Path, name: str) -> str:
    """The string default of `variable "<name>"` in a variables.tf file."""
    block = _variable_block(variables_tf, name)
    default = re.search(r'^\s*default\s*=\s*"((?:[^"\\]|\\.)*)"', block, re.M)
    if not default:
        raise HarnessError(f"{variables_tf} has no string default for variable {name!r}")
    return default.group(1).replace('\\"', '"')


def variable_number_default(variables_tf: Path, name: str) -> int:
    """The whole-number default of `variable "<name>"` in a variables.tf file."""
    block = _variable_block(variables_tf, name)
    default = re.search(r"^\s*default\s*=\s*(-?\d+)\s*$", block, re.M)
    if not default:
        raise HarnessError(f"{variables_tf} has no number default for variable {name!r}")
    return int(default.group(1))


def from_terraform(project_dir: Path) -> LoaderSchedule:
    """The loader's schedules as the catalog module defines them by default."""
    path = project_dir / MODULE_VARIABLES
    return window(
        variable_number_default(path, "schedule_first_hour"),
        variable_number_default(path, "schedule_last_hour"),
        variable_default(path, "schedule_timezone"),
    )


def describe_runs(schedule: LoaderSchedule, now: datetime, count: int) -> list[str]:
    """`harness clock show`'s lines for the next runs, in the schedules' zone (and UTC)."""
    return [
        f"{run.at:%Y-%m-%d %H:%M %Z} ({run.at.astimezone(UTC):%H:%M} UTC) {run.schedule}"
        for run in schedule.next_runs(now, count)
    ]
