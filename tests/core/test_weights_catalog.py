"""The catalog of official checkpoints: tables, registration through the hook, finding and hashing files."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

import restorefw_restormer
from restorefw import CheckpointError, ConfigError, RegistryError, build_registry, hookimpl
from restorefw.hookspecs import RegisterWeights
from restorefw.testing import plugin_manager
from restorefw.weights import (
    WeightsCatalog,
    WeightsEntry,
    checkpoint_files,
    read_weights_table,
    sha256_file,
    verify_checkpoint,
)

TINY = {"dim": 8, "num_blocks": [1, 1, 1, 1], "heads": [1, 1, 2, 2], "num_refinement_blocks": 1}


def _entry(**fields: Any) -> WeightsEntry:
    base = {"name": "tiny/one", "model": "restormer", "files": ["one.pth"], "source": "https://example.org/one",
            "license": "CC0"}
    return WeightsEntry(**{**base, **fields})


class _Plugin:
    """A plugin that registers the given entries."""

    def __init__(self, name: str, *entries: Any) -> None:
        self.name, self.entries = name, entries

    @hookimpl
    def register_weights(self, register: RegisterWeights) -> None:
        for entry in self.entries:
            register(entry)


def test_table_with_defaults(tmp_path: Path) -> None:
    table = tmp_path / "weights.toml"
    table.write_text('[defaults]\nmodel = "restormer"\nlicense = "CC0"\nsource = "https://example.org"\n\n'
                     '[[weights]]\nname = "tiny/a"\nfiles = ["a.pth"]\nspec = { dim = 8 }\n\n'
                     '[[weights]]\nname = "tiny/b"\nfiles = ["b.index", "b.data-00000-of-00001"]\nlicense = "MIT"\n'
                     f'sha256 = {{ "b.index" = "{"0" * 64}" }}\nreported = {{ Set5 = {{ psnr = 30.5 }} }}\n')
    a, b = read_weights_table(table)
    assert (a.name, a.model_spec, a.license, a.sha256) == ("tiny/a", {"type": "restormer", "dim": 8}, "CC0", {})
    assert b.license == "MIT" and b.reported == {"Set5": {"psnr": 30.5}} and not b.fully_hashed
    assert read_weights_table(str(table)) == [a, b]


@pytest.mark.parametrize(("text", "message"), [
    ('[[weights]]\nname = "Tiny"\n', r"weights\[0\]\.name: String should match pattern"),
    ('[[weights]]\nname = "t/a"\nmodel = "m"\nfiles = ["a.pth"]\nsource = "s"\nlicense = "l"\n'
     'sha256 = { "a.pth" = "xyz" }', r"weights\[0\]\.sha256\.a\.pth: String should match pattern"),
    ('[[weights]]\nname = "t/a"\nmodel = "m"\nfiles = ["a.pth"]\nsource = "s"\nlicense = "l"\n'
     f'sha256 = {{ "b.pth" = "{"a" * 64}" }}', "sha256 names files that are not in 'files': b.pth"),
    ('[[weights]]\nname = "t/a"\nmodel = "m"\nfiles = ["a.pth"]\nsource = "s"\nlicense = "l"\nspec = { type = "x" }',
     "the model is named by 'model'"),
    ('[[weights]]\nname = "t/a"\nmodel = "m"\nfiles = ["dir/a.pth"]\nsource = "s"\nlicense = "l"',
     r"weights\[0\]\.files\[0\]: String should match pattern"),
    ('[[weights]]\nname = "t/a"\nmodel = "m"\nfiles = ["a.pth"]\nsource = "s"\nlicence = "l"',
     r"weights\[0\]\.licence: unknown key"),
    ('[weight]\nname = "t/a"', "weight: unknown key"),
    ("weights = 3", r"weights: expected an array of tables"),
    ("[[weights]\n", "not valid TOML"),
])
def test_table_errors_name_the_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    table = tmp_path / "weights.toml"
    table.write_text(text)
    with pytest.raises(ConfigError, match=message) as info:
        read_weights_table(table)
    assert all(line.startswith(f"{table}: ") for line in str(info.value).splitlines())


def test_missing_table(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"absent\.toml: cannot read the weights table"):
        read_weights_table(tmp_path / "absent.toml")


def test_catalog_lookup() -> None:
    catalog = WeightsCatalog()
    for name in ("tiny/one", "tiny/two", "other/one"):
        catalog.add(_entry(name=name, plugin="p"))
    assert [e.name for e in catalog.list("tiny/*")] == ["tiny/one", "tiny/two"]
    assert len(catalog) == 3 and "tiny/two" in catalog and [e.name for e in catalog][0] == "other/one"
    with pytest.raises(RegistryError, match=r"unknown weights 'tiny/tow' \(did you mean 'tiny/two'\?\); "
                                            r"'restorefw weights' lists the 3 known ones"):
        catalog.get("tiny/tow")
    with pytest.raises(RegistryError, match="'tiny/one' are registered twice: by plugin 'p' and by plugin 'q'"):
        catalog.add(_entry(plugin="q"))


def test_hook_registers_entries_with_their_plugin() -> None:
    pm = plugin_manager(restorefw_restormer, _Plugin("extra", _entry(spec=TINY)))
    registry = build_registry(pm)
    assert registry.weights.get("tiny/one").plugin == "extra"
    assert registry.weights.get("restormer/deraining").plugin == "restorefw_restormer"
    assert pm.info["extra"].registered == {"weights": ["tiny/one"]}
    assert "restormer/motion_deblurring" in pm.info["restorefw_restormer"].registered["weights"]


@pytest.mark.parametrize(("entry", "message"), [
    (_entry(model="no_such_model"), "weights 'tiny/one' do not fit model 'no_such_model': type: unknown model"),
    (_entry(spec={"dim": -1}), "weights 'tiny/one' do not fit model 'restormer': dim: Input should be greater"),
    ({"name": "tiny/one"}, "register_weights takes a restorefw.weights.WeightsEntry, got dict"),
    (_entry(name="restormer/deraining"), "'restormer/deraining' are registered twice: by plugin "
                                         "'restorefw_restormer' and by plugin 'extra'"),
])
def test_bad_registrations_are_plugin_failures(entry: Any, message: str) -> None:
    pm = plugin_manager(restorefw_restormer, _Plugin("extra", entry), strict=False)
    registry = build_registry(pm)
    assert [(f.name, f.hook, f.error.startswith("hook register_weights (")) for f in pm.failures] == \
        [("extra", "register_weights", True)]
    assert message in pm.failures[0].error
    assert "restormer/deraining" in registry.weights


def _write(path: Path, data: bytes) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def test_single_file_checkpoints_are_found_renamed_or_in_their_folder(tmp_path: Path) -> None:
    entry = _entry()
    renamed = tmp_path / "mine.pth"
    _write(renamed, b"x")
    assert checkpoint_files(entry, renamed) == {"one.pth": renamed}
    _write(tmp_path / "dl" / "one.pth", b"y")
    assert checkpoint_files(entry, tmp_path / "dl") == {"one.pth": tmp_path / "dl" / "one.pth"}


def test_bundles_are_found_from_a_file_their_prefix_or_their_folder(tmp_path: Path) -> None:
    entry = _entry(files=["P.index", "P.data-00000-of-00001"])
    for name in ("P.index", "P.data-00000-of-00001", "Q.index", "Q.data-00000-of-00001"):
        _write(tmp_path / name, name.encode())
    published = {"P.index": tmp_path / "P.index", "P.data-00000-of-00001": tmp_path / "P.data-00000-of-00001"}
    for given in ("P.index", "P.data-00000-of-00001", "P"):
        assert checkpoint_files(entry, tmp_path / given) == published
    assert checkpoint_files(entry, tmp_path) == published
    assert checkpoint_files(entry, tmp_path / "Q.index")["P.data-00000-of-00001"] == tmp_path / "Q.data-00000-of-00001"


def test_a_missing_file_says_where_the_authors_publish_it(tmp_path: Path) -> None:
    entry = _entry(files=["P.index", "P.data-00000-of-00001"])
    _write(tmp_path / "P.index", b"i")
    with pytest.raises(CheckpointError, match=r"P\.data-00000-of-00001: not found; 'tiny/one' is P\.index and "
                                              r"P\.data-00000-of-00001, published by its authors at https://"
                                              r"example\.org/one \(licence: CC0\); restorefw downloads nothing"):
        checkpoint_files(entry, tmp_path / "P.index")


def test_each_file_is_hashed_against_its_own_published_hash(tmp_path: Path) -> None:
    good = _write(tmp_path / "P.index", b"index")
    _write(tmp_path / "P.data-00000-of-00001", b"data")
    assert sha256_file(tmp_path / "P.index") == good
    entry = _entry(files=["P.index", "P.data-00000-of-00001"], sha256={"P.index": good, "P.data-00000-of-00001":
                                                                      hashlib.sha256(b"dat4").hexdigest()})
    index, data = verify_checkpoint(entry, tmp_path)
    assert (index.ok, data.ok) == (True, False)
    assert data.mismatch("tiny/one") == (f"{tmp_path / 'P.data-00000-of-00001'}: SHA-256 differs from the published "
                                         f"P.data-00000-of-00001 of 'tiny/one': expected {data.expected}, got "
                                         f"{hashlib.sha256(b'data').hexdigest()}")
    unknown = verify_checkpoint(_entry(files=["P.index"]), tmp_path / "P.index")
    assert [c.ok for c in unknown] == [None] and unknown[0].actual == good


def test_an_unreadable_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "folder").mkdir()
    with pytest.raises(CheckpointError, match=r"folder: cannot read: Is a directory"):
        sha256_file(tmp_path / "folder")
