"""The docs stay true: every hook documented with its signature, every recipe in the docs validates."""

from __future__ import annotations

import dataclasses
import inspect
import re
import tomllib
from pathlib import Path

import pytest

from restorefw import engine, hookspecs, load_recipe, resolve_recipe

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]


def _signature(fn: object) -> str:
    sig = inspect.signature(fn)  # type: ignore[arg-type]
    params = ", ".join(f"{p.name}: {p.annotation}".replace("'", "") for p in sig.parameters.values())
    return f"{fn.__name__}({params}) -> {sig.return_annotation}".replace("'", "")  # type: ignore[attr-defined]


def test_every_hook_is_documented_with_its_signature():
    text = (ROOT / "docs/hooks.md").read_text()
    hooks = [fn for name, fn in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("register_")]
    assert len(hooks) >= 11
    for fn in hooks:
        assert f"### `{_signature(fn)}`" in text, _signature(fn)
    documented = set(re.findall(r"^### `(register_\w+)\(", text, flags=re.M))
    assert documented == {fn.__name__ for fn in hooks}, "hooks.md documents hooks that do not exist"


@pytest.mark.parametrize("name", ["Strategy", "StepContext", "Batch"])
def test_strategy_context_and_batch_reference_matches_the_code(name: str) -> None:
    """Every public attribute, field and method of the class is in its table in hooks.md, with the
    method's parameters, and the table names nothing else."""
    text = (ROOT / "docs/hooks.md").read_text()
    section = text.split(f"### `{name}`\n", 1)[1].split("\n#", 1)[0]
    documented = dict(re.findall(r"^\| `(\w+)(\([^)]*\))?`", section, flags=re.M))
    cls = getattr(engine, name)
    members = {n: v for n, v in vars(cls).items() if not n.startswith("_")}
    fields = {f.name for f in dataclasses.fields(cls)} if dataclasses.is_dataclass(cls) else set()
    assert set(documented) == set(members) | fields
    for member, params in documented.items():
        if callable(members.get(member)):
            expected = [p for p in inspect.signature(members[member]).parameters if p != "self"]
            assert params == f"({', '.join(expected)})", member
        else:
            assert params == "", f"{member} is no method"


def _toml_blocks() -> list[tuple[str, str]]:
    blocks = []
    for path in DOCS:
        for i, block in enumerate(re.findall(r"```toml\n(.*?)```", path.read_text(), flags=re.S)):
            blocks.append((f"{path.name}[{i}]", block))
    return blocks


def _is_whole_recipe(block: str) -> bool:
    """A recipe that trains ([data], [task], [model], [[stages]]) or one that only evaluates ([model], [eval] sets)."""
    has = [f"\n{section}" in f"\n{block}" for section in ("[data]", "[task]", "[model]", "[[stages]]", "[eval]")]
    return all(has[:4]) or (has[2] and has[4] and not has[3] and "\nsets = " in block)


@pytest.mark.parametrize("name,block", [b for b in _toml_blocks() if _is_whole_recipe(b[1])], ids=lambda v: v if
                         isinstance(v, str) and "[" in v and "\n" not in v else "")
def test_recipes_in_docs_validate(registry, name, block):
    """Whole recipes (training or evaluating ones) validate; snippets only need to parse."""
    resolve_recipe(tomllib.loads(block), registry, source=name)


def test_doc_snippets_parse_as_toml():
    for _, block in _toml_blocks():
        tomllib.loads(block)


def test_every_recipe_file_validates(registry):
    for path in sorted((ROOT / "recipes").glob("*.toml")):
        resolve_recipe(load_recipe(path), registry, source=str(path))


def test_readme_commands_match_ci():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci/run").read_text()
    assert "python -m pytest -q" in readme and "python -m pytest -q" in ci
    assert "restorefw run recipes/quickstart.toml" in readme
    for link in re.findall(r"\]\(((?:docs/)?[\w./-]+\.md)\)", readme):
        assert (ROOT / link).is_file(), link
