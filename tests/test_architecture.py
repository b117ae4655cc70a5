"""The shape of the code (ARCHITECTURE.md): no private names across modules, no import cycles, thin routes, one
place that builds models. Layer contracts themselves are checked by `lint-imports` (.importlinter) in CI."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from qa_service.config import REPO_ROOT

PACKAGE = REPO_ROOT / "qa_service"


def _modules() -> dict[str, Path]:
    out = {}
    for p in sorted(PACKAGE.rglob("*.py")):
        parts = list(p.relative_to(REPO_ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = p
    return out


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _resolve(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def private_imports() -> list[str]:
    """``from X import _name`` or ``import pkg._mod`` across module boundaries: a private name belongs to its
    module (and a private module to its own package)."""
    found = []
    for module, path in _modules().items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                target = _resolve(module, node, path.name == "__init__.py")
                names = [a.name for a in node.names]
                for name in names:
                    if _private(name) and target != module:
                        found.append(f"{module} imports {name} from {target}")
                segments = target.split(".")
                for i, seg in enumerate(segments):
                    owner = ".".join(segments[:i])
                    if _private(seg) and not (module == owner or module.startswith(owner + ".")):
                        found.append(f"{module} imports from private module {target}")
            elif isinstance(node, ast.Import):
                for a in node.names:
                    segments = a.name.split(".")
                    for i, seg in enumerate(segments):
                        owner = ".".join(segments[:i])
                        if _private(seg) and not module.startswith(owner + "."):
                            found.append(f"{module} imports private module {a.name}")
    return found


def test_no_module_imports_a_private_name_of_another():
    assert private_imports() == []


def test_the_private_import_check_catches_one(tmp_path, monkeypatch):
    """The check above can fail: a planted module importing a private helper is reported."""
    planted = PACKAGE / "io" / "zz_planted_for_test.py"
    planted.write_text("from qa_service.usecases.feedback import _drivers\n", encoding="utf-8")
    try:
        assert "qa_service.io.zz_planted_for_test imports _drivers from qa_service.usecases.feedback" in \
            private_imports()
    finally:
        planted.unlink()


def import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports (top-level and inside functions)."""
    mods = _modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for module, path in mods.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom):
                base = _resolve(module, node, path.name == "__init__.py")
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            for t in targets:
                while t and t not in mods:
                    t = t.rpartition(".")[0]
                if t and t != module:
                    graph[module].add(t)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles():
    assert cycles(import_graph()) == []


def test_the_cycle_check_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_routes_are_thin():
    """A route validates, calls a use case and returns a response model: no route function over 40 lines."""
    from qa_service.api.app import create_app

    long = []
    for route in create_app(load_models=False).routes:
        fn = getattr(route, "endpoint", None)
        if fn is None or not getattr(fn, "__module__", "").startswith("qa_service.api"):
            continue
        lines = len(inspect.getsourcelines(fn)[0])
        if lines > 40:
            long.append(f"{fn.__module__}.{fn.__name__}: {lines} lines")
    assert long == []


@pytest.mark.parametrize("module", ["qa_service.api.routes.topics", "qa_service.api.routes.reviews",
                                   "qa_service.api.routes.jobs", "qa_service.api.routes.scoring"])
def test_routes_run_no_sql_and_build_no_paths(module):
    import importlib

    src = inspect.getsource(importlib.import_module(module))
    for word in ("sqlalchemy", "session_scope", "select(", "data_dir", "models_dir"):
        assert word not in src, f"{module} uses {word}"


def test_api_cli_and_worker_get_the_same_models(settings, tmp_path):
    """One place builds models: the API's app, a CLI command and the job worker, in one process with one
    configuration, are handed the same encoder, sentiment pipeline and scorer objects."""
    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from qa_service.api.app import create_app
    from qa_service.cli import app as cli_app
    from qa_service.runtime import get_runtime
    from qa_service.usecases import jobs
    from tests.conftest import auth

    rt = get_runtime(settings)
    seen: dict[str, list] = {"sentiment": [], "scorer": []}
    real_sentiment, real_scorer = type(rt).sentiment, type(rt).scorer

    def spy_sentiment(self, ref=None):
        pipe = real_sentiment(self, ref)
        if ref is None:  # the served model (scoring asks for QA_SCORING_SENTIMENT_MODEL by name)
            seen["sentiment"].append(pipe)
        return pipe

    def spy_scorer(self, rubric):
        scorer = real_scorer(self, rubric)
        seen["scorer"].append(scorer)
        return scorer

    mp = pytest.MonkeyPatch()
    mp.setattr(type(rt), "sentiment", spy_sentiment)
    mp.setattr(type(rt), "scorer", spy_scorer)
    try:
        app = create_app(settings)
        with TestClient(app, headers=auth(settings, "analyst")) as client:
            assert app.state.runtime is rt
            assert client.post("/v1/sentiment", json={"text": "Gracias, todo resuelto"}).status_code == 200
            t = {"id": "t1", "channel": "chat", "language": "es", "turns": [
                {"speaker": "agent", "text": "Buenos días, le atiende Laura."},
                {"speaker": "customer", "text": "Me cobraron dos veces."}]}
            assert client.post("/v1/score", json={"transcript": t}).status_code == 200
        api_sentiment, api_scorer = seen["sentiment"][-1], seen["scorer"][-1]

        f = tmp_path / "in.csv"
        f.write_text("id,text\n1,Muy mal servicio\n", encoding="utf-8")
        tf = tmp_path / "t.jsonl"
        tf.write_text(__import__("json").dumps(t) + "\n", encoding="utf-8")
        mp.setattr("qa_service.cli.core.runtime", lambda: rt)  # the CLI's runtime for these settings
        assert CliRunner().invoke(cli_app, ["sentiment", str(f)]).exit_code == 0
        assert CliRunner().invoke(cli_app, ["score", str(tf)]).exit_code == 0
        cli_sentiment, cli_scorer = seen["sentiment"][-1], seen["scorer"][-1]

        job = jobs.submit_job(rt, "score", [t], {"rubric": "default-es", "source": "arch-test"})
        jobs.get_queue(rt).run_job_task.call_local(job.id)  # the task a worker runs for a queued job
        assert jobs.get_job(rt, job.id).status == "done"
        worker_scorer = seen["scorer"][-1]
    finally:
        mp.undo()
    assert api_sentiment is cli_sentiment is rt.sentiment()
    assert api_scorer is cli_scorer is worker_scorer
    assert api_scorer.encoder is rt.encoder() and api_scorer.sentiment is rt.scoring_sentiment()
    assert api_scorer.sentiment.encoder_model() is rt.encoder()  # the scorer's turn embeddings feed its head
    # Another configuration gets its own runtime; the same configuration always gets this one.
    assert get_runtime(settings.model_copy(update={"threads": settings.threads + 1})) is not rt
    assert get_runtime(settings.model_copy()) is rt
