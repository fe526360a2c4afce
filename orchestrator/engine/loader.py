"""`load_bot`: read a bot file and its flow files (YAML with positions), validate them,
compile them (`compiler.py`), report every problem.

Parsing and schema errors are collected per file (per flow inside flow files, so one broken
flow does not hide the problems of the others); reference checks then run on everything that
validated. Any error raises `BotLoadError` with all diagnostics; warnings ride along on the
`BotVersion`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from . import diagnostics as D
from . import hints
from . import models as M
from .compiled import BotVersion
from .compiler import compile_bot
from .diagnostics import BotLoadError, Diagnostic
from .templating import Templates
from .yaml_loader import Path as DataPath
from .yaml_loader import SourceMap, parse_yaml

_ERROR_CODES = {
    "extra_forbidden": D.E_UNKNOWN_KEY,
    "missing": D.E_MISSING,
    "step_action": D.E_STEP_ACTION,
    "duration": D.E_DURATION,
    "hours": D.E_HOURS,
    "regex": D.E_REGEX,
    "readonly_scope": D.E_READONLY_SCOPE,
    "variable_decl": D.E_VARIABLE_DECL,
}


def _owner(loc: tuple[Any, ...]) -> str:
    """'step' when `loc` is a key of a step itself (flows.f.steps.0.<tag>.<key>)."""
    for i in range(len(loc) - 1, -1, -1):
        if loc[i] == "steps":
            return "step" if len(loc) - i == 4 and isinstance(loc[i + 1], int) else ""
    return ""


def _vocabulary() -> set[str]:
    words: set[str] = set(M.ACTION_KEYS)
    for obj in vars(M).values():
        if isinstance(obj, type) and issubclass(obj, BaseModel):
            words.update(f.alias or n for n, f in obj.model_fields.items())
    return words


_VOCABULARY = _vocabulary()


def load_bot(bot_file: Path, root: Path | None = None) -> BotVersion:
    """Load `bots/<id>.yaml` and the flow files its `flows:` globs match (relative to `root`,
    by default the parent of the bot file's folder). Raises `BotLoadError` listing every
    problem found."""
    bot_file = Path(bot_file)
    root = Path(root) if root is not None else bot_file.resolve().parent.parent
    return Loader(root.resolve()).load(bot_file.resolve())


def load_bot_partial(bot_file: Path, root: Path | None = None) -> tuple[BotVersion | None, list[Diagnostic]]:
    """Like `load_bot`, but never raises: the version compiled from everything that validated
    (None when the bot file itself is unusable) and every diagnostic, errors included.

    For the checker (`orchestrator check`), which runs its own rules on top of the loader's.
    A version returned alongside errors may hold dangling references: never run it."""
    bot_file = Path(bot_file)
    root = Path(root) if root is not None else bot_file.resolve().parent.parent
    loader = Loader(root.resolve())
    version = loader.load_partial(bot_file.resolve())
    return version, list(loader.diags)


class Loader:
    """Reads a bot file and its flow files (YAML with positions) and validates them into
    models, collecting every diagnostic; `compiler.compile_bot` turns them into a version."""

    def __init__(self, root: Path):
        self.root = root
        self.diags: list[Diagnostic] = []
        self.sources: dict[str, SourceMap] = {}
        self.contents: list[tuple[str, bytes]] = []
        self.templates = Templates()
        # ids of steps that failed validation, so references to them are not reported too
        self.raw_step_ids: dict[str, set[str]] = {}
        # for flows with invalid steps: the data index of each valid step
        self.step_indices: dict[str, list[int]] = {}

    # ------------------------------------------------------------ helpers
    def display(self, path: Path) -> str:
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return path.as_posix()

    def error(
        self,
        source: SourceMap,
        path: Sequence[str | int],
        code: str,
        msg: str,
        *,
        key: bool = False,
        severity: D.Severity = "error",
    ) -> None:
        line, col = source.pos(path, key=key)
        self.diags.append(Diagnostic(source.file, line, col, severity, code, msg))

    def parse(self, path: Path) -> tuple[Any, SourceMap] | None:
        name = self.display(path)
        try:
            raw = path.read_bytes()
            text = raw.decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            self.diags.append(Diagnostic(name, 0, 0, "error", D.E_FILE, str(exc)))
            return None
        self.contents.append((name, raw))
        parsed = parse_yaml(text, name)
        self.sources[name] = parsed.source
        self.diags.extend(parsed.diagnostics)
        if parsed.data is None and not parsed.diagnostics:
            self.diags.append(Diagnostic(name, 1, 1, "error", D.E_VERSION, "empty file"))
        if not isinstance(parsed.data, dict):
            if parsed.data is not None:
                self.error(parsed.source, (), D.E_INVALID, "the file must be a mapping")
            return None
        if "version" not in parsed.data:
            self.error(parsed.source, (), D.E_VERSION, "the file must start with 'version: 1'")
        return parsed.data, parsed.source

    def validate(self, model: Any, data: Any, source: SourceMap, prefix: DataPath = ()) -> Any:
        try:
            if isinstance(model, TypeAdapter):
                return model.validate_python(data)
            return model.model_validate(data)
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                self.schema_error(err, (*prefix, *err["loc"]), source)
            return None

    def schema_error(self, err: Any, loc: tuple[Any, ...], source: SourceMap) -> None:
        kind, msg = err["type"], err["msg"]
        path = source.resolve_loc(loc)
        key = "[key]" in loc
        code = _ERROR_CODES.get(kind, D.E_INVALID)
        last = loc[-1] if loc else ""
        if loc and loc[0] == "version" and len(loc) == 1:
            if kind == "missing":
                return  # reported by parse() at the top of the file
            code, msg = D.E_VERSION, f"unsupported version {err.get('input')!r} (expected 1)"
        elif kind == "extra_forbidden":
            key = True
            msg = f"unknown key '{last}'{hints.unknown_key(str(last), _VOCABULARY, where=_owner(loc))}"
        elif kind == "missing":
            msg = f"missing required key '{last}'"
        elif code == D.E_INVALID and isinstance(last, str) and not last[:1].isupper():
            msg = f"'{last}': {msg}" if last and last not in ("[key]",) else msg
            if last in ("next", "goto") and isinstance(err.get("input"), list | dict):
                msg += f" ({hints.CONDITIONAL_NEXT})"
        self.error(source, path, code, msg, key=key)

    # ------------------------------------------------------------ load
    def load(self, bot_path: Path) -> BotVersion:
        version = self.load_partial(bot_path)
        if version is None or any(d.is_error for d in self.diags):
            raise BotLoadError(self.diags)
        return version

    def load_partial(self, bot_path: Path) -> BotVersion | None:
        parsed = self.parse(bot_path)
        bot: M.BotFile | None = None
        bot_source = self.sources.get(self.display(bot_path), SourceMap(self.display(bot_path)))
        globs: list[str] = []
        if parsed:
            data, bot_source = parsed
            bot = self.validate(M.BotFile, data, bot_source)
            raw_globs = data.get("flows")
            if isinstance(raw_globs, str):
                raw_globs = [raw_globs]
            if isinstance(raw_globs, list):
                globs = [g for g in raw_globs if isinstance(g, str)]

        flow_files: dict[str, M.FlowFile] = {}
        raw_flow_ids: set[str] = set()
        raw_message_ids: set[str] = set(_raw_keys(parsed[0].get("messages")) if parsed else [])
        seen: set[Path] = set()
        for i, pattern in enumerate(globs):
            matched = [
                p
                for p in sorted(self.root.glob(pattern))
                if p.is_file() and not p.name.endswith((".test.yaml", ".test.yml"))
            ]
            if not matched:
                self.error(
                    bot_source,
                    ("flows", i),
                    D.W_GLOB_EMPTY,
                    f"'{pattern}' matches no flow file",
                    severity="warning",
                )
            for path in matched:
                if path in seen:
                    continue
                seen.add(path)
                loaded = self.parse(path)
                if loaded is None:
                    continue
                fdata, fsource = loaded
                raw_flow_ids.update(_raw_keys(fdata.get("flows")))
                raw_message_ids.update(_raw_keys(fdata.get("messages")))
                model = self.validate_flow_file(fdata, fsource)
                if model is not None:
                    flow_files[fsource.file] = model

        if bot is None:
            return None
        return compile_bot(self, bot, bot_source, flow_files, raw_flow_ids, raw_message_ids)

    def validate_flow_file(self, data: dict[str, Any], source: SourceMap) -> M.FlowFile | None:
        flows_raw = data.get("flows")
        top = dict(data)
        if isinstance(flows_raw, dict):
            top["flows"] = {}
        header = self.validate(M.FlowFile, top, source)
        if header is None or not isinstance(flows_raw, dict):
            return None
        flows: dict[str, M.Flow] = {}
        for fid, raw in flows_raw.items():
            if not M._IDENT.match(fid):
                self.error(source, ("flows", fid), D.E_INVALID, f"'{fid}' is not a valid flow id", key=True)
                continue
            flow = self.validate_flow(fid, raw, source)
            if flow is not None:
                flows[fid] = flow
        return header.model_copy(update={"flows": flows})

    def validate_flow(self, fid: str, raw: Any, source: SourceMap) -> M.Flow | None:
        """Validate a flow step by step, so that every bad step is reported."""
        prefix: DataPath = ("flows", fid)
        steps_raw = raw.get("steps") if isinstance(raw, dict) else None
        if not isinstance(steps_raw, list) or not steps_raw:
            return self.validate(M.Flow, raw, source, prefix)
        flow = self.validate(M.Flow, {**raw, "steps": [{"end": None}]}, source, prefix)
        steps, indices = [], []
        for i, step_raw in enumerate(steps_raw):
            step = self.validate(_STEP, step_raw, source, (*prefix, "steps", i))
            if step is None:
                self.raw_step_ids.setdefault(fid, set()).update(_raw_ids(step_raw))
            else:
                steps.append(step)
                indices.append(i)
        if len(indices) < len(steps_raw):
            self.step_indices[fid] = indices
        if flow is None:
            # The header is broken (already reported): keep checking the steps anyway.
            return M.Flow.model_construct(steps=steps) if steps else None
        return flow.model_copy(update={"steps": steps})


_STEP: TypeAdapter[Any] = TypeAdapter(M.Step)


def _raw_ids(value: Any) -> Iterator[str]:
    """Every `id: <str>` in raw step data (nested steps included)."""
    if isinstance(value, dict):
        if isinstance(value.get("id"), str):
            yield value["id"]
        for v in value.values():
            yield from _raw_ids(v)
    elif isinstance(value, list):
        for v in value:
            yield from _raw_ids(v)


def _raw_keys(value: Any) -> list[str]:
    return [k for k in value if isinstance(k, str)] if isinstance(value, dict) else []
