"""Loading presets, energy tables and user files; one-line errors; the digest."""

from __future__ import annotations

import copy
import hashlib
import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml

from hwmodels.load import (
    hardware_digest,
    list_presets,
    list_tables,
    load_energy_table,
    load_hardware,
)
from hwmodels.schema import EnergyTable
from rctsim.errors import InputError


@pytest.fixture()
def edge_data() -> dict[str, Any]:
    """The bundled edge preset as plain YAML data, to mutate."""
    text = (resources.files("hwmodels") / "presets" / "edge_npu.yaml").read_text()
    return yaml.safe_load(text)


def _write(path: Path, data: Any) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _load_error(path: Path) -> InputError:
    with pytest.raises(InputError) as info:
        load_hardware(path)
    message = str(info.value)
    assert "\n" not in message and message.startswith(str(path))
    return info.value


def test_bundled_names() -> None:
    """Five presets and two energy tables ship with the package."""
    assert list_presets() == ["bitfusion", "datacenter", "edge_npu", "lnpu", "mcu_npu"]
    assert list_tables() == ["horowitz_45nm", "tpuv4i_7nm"]


@pytest.mark.parametrize("name", ["bitfusion", "datacenter", "edge_npu", "mcu_npu"])
def test_every_preset_number_has_a_source(name: str) -> None:
    """Each preset loads and every sourced part says where its numbers come from."""
    spec = load_hardware(name)
    assert spec.name == name and spec.description
    parts = [spec.array.source, spec.dram.source, *(m.source for m in spec.memories)]
    assert all(len(text) > 40 for text in parts)


@pytest.mark.parametrize("name", ["horowitz_45nm", "tpuv4i_7nm"])
def test_every_table_entry_has_a_source(name: str) -> None:
    """Each energy-table entry names its publication."""
    table = load_energy_table(name)
    groups = [
        table.int_mult,
        table.int_add,
        table.fp_mult,
        table.fp_add,
        table.sram_64b,
        [table.dram_64b],
    ]
    assert all(len(e.source) > 20 for group in groups for e in group)


def test_presets_match_the_published_designs() -> None:
    """Array and buffer sizes are the cited designs' numbers."""
    edge, mcu = load_hardware("edge_npu"), load_hardware("mcu_npu")
    tpu, fusion = load_hardware("datacenter"), load_hardware("bitfusion")
    assert edge.array.rows * edge.array.cols == 168
    assert edge.global_buffer.size_bytes == 108 * 1024
    assert edge.array.int_bits == list(range(2, 17))
    assert [(u.name, u.lanes, dict(u.formats)) for u in edge.compute_units] == [
        ("fp32_vector", 16, {"fp32": 1}), ("fp16_vector", 32, {"fp16": 1, "bf16": 1})]
    assert mcu.global_buffer.size_bytes == 64 * 1024
    assert mcu.array.rows * mcu.array.cols == 64
    assert tpu.array.rows == tpu.array.cols == 256 and tpu.array.clock_hz == 700e6
    assert tpu.global_buffer.size_bytes == 24 * 2**20
    assert tpu.dram.bandwidth_bytes_per_s == 34e9
    assert fusion.array.precision_mode == "bit_fusion"
    assert fusion.array.rows * fusion.array.cols == 512
    assert fusion.global_buffer.size_bytes == (64 + 32 + 16) * 1024


def test_yaml_suffix_and_path_lookup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, edge_data: dict[str, Any]
) -> None:
    """`edge_npu.yaml` finds the preset, unless a file of that name exists: a path wins."""
    monkeypatch.chdir(tmp_path)
    assert load_hardware("edge_npu.yaml").name == "edge_npu"
    edge_data["name"] = "my_local_edge"
    _write(tmp_path / "edge_npu.yaml", edge_data)
    assert load_hardware("edge_npu.yaml").name == "my_local_edge"
    assert load_hardware("edge_npu").name == "edge_npu"


def test_unknown_name_lists_presets() -> None:
    """A name that is neither a file nor a preset lists the presets."""
    with pytest.raises(InputError) as info:
        load_hardware("no_such_npu")
    assert "edge_npu" in str(info.value) and "bitfusion" in str(info.value)
    assert "did you mean" not in str(info.value)


def test_misspelt_name_suggests_the_preset() -> None:
    """A near miss (a letter dropped, a `.yaml` added) names the closest preset."""
    for typo in ("edge_np", "edgenpu.yaml"):
        with pytest.raises(InputError) as info:
            load_hardware(typo)
        assert "(did you mean 'edge_npu'?)" in str(info.value)


def test_yaml_syntax_error(tmp_path: Path) -> None:
    """A YAML syntax error names the file and the line."""
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\narray: [rows: 3\n")
    assert "line" in _load_error(path).field


def test_unknown_key_lists_allowed_keys(tmp_path: Path, edge_data: dict[str, Any]) -> None:
    """An extra key is named, with the keys its section accepts."""
    edge_data["array"]["foo"] = 1
    err = _load_error(_write(tmp_path / "hw.yaml", edge_data))
    assert err.field == "array.foo"
    assert "unknown key 'foo'" in err.problem and "dataflow" in err.problem


def test_negative_sram_size(tmp_path: Path, edge_data: dict[str, Any]) -> None:
    """A negative SRAM size names the list index and the bound."""
    edge_data["memories"][0]["size_bytes"] = -5
    err = _load_error(_write(tmp_path / "hw.yaml", edge_data))
    assert err.field == "memories[0].size_bytes" and "greater than 0" in err.problem


def test_unsupported_dataflow(tmp_path: Path, edge_data: dict[str, Any]) -> None:
    """An unknown dataflow lists the allowed ones."""
    edge_data["array"]["dataflow"] = "rs"
    err = _load_error(_write(tmp_path / "hw.yaml", edge_data))
    assert err.field == "array.dataflow" and "'ws', 'os' or 'is'" in err.problem


def test_bits_outside_range(tmp_path: Path, edge_data: dict[str, Any]) -> None:
    """Bit widths outside 1..32 are refused with the bound."""
    edge_data["array"]["int_bits"] = [8, 64]
    err = _load_error(_write(tmp_path / "hw.yaml", edge_data))
    assert err.field == "array.int_bits[1]" and "less than or equal to 32" in err.problem


@pytest.mark.parametrize(
    ("mutate", "field", "words"),
    [
        (
            lambda d: d["array"].update(int_bits=[8, 4], native_bits=8),
            "array.int_bits",
            "strictly increasing",
        ),
        (lambda d: d["memories"][1].update(role="global"), "memories", "exactly one memory"),
        (
            lambda d: d["array"].update(int_bits=[4, 8], native_bits=16),
            "array.native_bits",
            "not one of",
        ),
        (
            lambda d: d["array"].update(
                precision_mode="bit_fusion", int_bits=[3, 8], native_bits=8
            ),
            "array.int_bits",
            "powers of two",
        ),
        (lambda d: d["array"].update(serial_bits=2), "array.serial_bits", "bit_serial"),
        (lambda d: d.update(energy_table="nope"), "energy_table", "neither"),
        (lambda d: d.update(components={"gpu": "x"}), "components.gpu", "unknown component"),
        (lambda d: d.update(components={"mac": "x"}), "components.mac", "no mac model"),
        (
            lambda d: d["memories"].append(dict(d["memories"][1], name="again")),
            "memories",
            "pe_local",
        ),
        (lambda d: d["memories"][0].update(word_bits=12), "memories[0].word_bits", "multiple of 8"),
        (lambda d: d.pop("dram"), "dram", "missing"),
    ],
)
def test_cross_field_errors(
    tmp_path: Path, edge_data: dict[str, Any], mutate: Any, field: str, words: str
) -> None:
    """Checks beyond the schema name their field and what is wrong."""
    mutate(edge_data)
    err = _load_error(_write(tmp_path / "hw.yaml", edge_data))
    assert err.field == field
    assert words in str(err)


@pytest.mark.parametrize(("text", "words"), [("", "empty file"), ("- 1\n- 2\n", "list")])
def test_document_must_be_a_mapping(tmp_path: Path, text: str, words: str) -> None:
    """An empty file or a list at top level is refused with the allowed keys."""
    path = tmp_path / "hw.yaml"
    path.write_text(text)
    err = _load_error(path)
    assert words in err.problem and "memories" in (err.allowed or "")


def test_relative_energy_table_next_to_the_file(tmp_path: Path, edge_data: dict[str, Any]) -> None:
    """A table path is read relative to the hardware file and stored as an absolute path."""
    table_text = (resources.files("hwmodels") / "tables" / "tpuv4i_7nm.yaml").read_text()
    (tmp_path / "tables").mkdir()
    (tmp_path / "tables" / "mine.yaml").write_text(table_text)
    edge_data["energy_table"] = "tables/mine.yaml"
    spec = load_hardware(_write(tmp_path / "hw.yaml", edge_data))
    assert Path(spec.energy_table) == (tmp_path / "tables" / "mine.yaml").resolve()
    assert load_energy_table(spec.energy_table).name == "tpuv4i_7nm"


def test_energy_table_errors(tmp_path: Path) -> None:
    """Table entries need their key, no duplicates; errors name the entry."""
    data = yaml.safe_load(
        (resources.files("hwmodels") / "tables" / "horowitz_45nm.yaml").read_text()
    )
    broken = copy.deepcopy(data)
    broken["int_add"][1]["bits"] = 8
    path = _write(tmp_path / "t.yaml", broken)
    with pytest.raises(InputError, match=r"int_add\[1\]\.bits: bits 8 appears twice"):
        load_energy_table(path)
    broken = copy.deepcopy(data)
    del broken["sram_64b"][0]["size_bytes"]
    path = _write(tmp_path / "t.yaml", broken)
    with pytest.raises(InputError, match=r"sram_64b\[0\]\.size_bytes"):
        load_energy_table(path)
    broken = copy.deepcopy(data)
    broken["fp_add"][0]["energy_pj"] = 0
    path = _write(tmp_path / "t.yaml", broken)
    with pytest.raises(InputError, match=r"fp_add\[0\]\.energy_pj: input should be greater"):
        load_energy_table(path)
    assert isinstance(load_energy_table(_write(tmp_path / "ok.yaml", data)), EnergyTable)


def test_digest_is_sha256_of_canonical_json() -> None:
    """The digest is reproducible from the spec and changes with any field."""
    spec = load_hardware("edge_npu")
    canonical = json.dumps(spec.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    assert hardware_digest(spec) == hashlib.sha256(canonical.encode()).hexdigest()
    assert hardware_digest(load_hardware("edge_npu")) == hardware_digest(spec)
    changed = spec.model_copy(update={"description": spec.description + "!"})
    assert hardware_digest(changed) != hardware_digest(spec)


def test_unknown_key_first_with_a_suggestion_and_other_errors_listed(tmp_path):
    from hwmodels.load import bundled_text

    path = tmp_path / "typo.yaml"
    path.write_text(bundled_text("edge_npu").replace("  rows: 12", "  rowz: 12")
                    .replace("dataflow: ws", "dataflow: xx"))
    with pytest.raises(InputError) as exc:
        load_hardware(path)
    line = str(exc.value)
    assert "\n" not in line
    assert line.index("unknown key 'rowz'") < line.index("array.rows: required key is missing")
    assert "did you mean 'rows'?" in line and "array.dataflow" in line
    assert "more error" not in line


def test_yaml11_float_pitfall_is_explained(tmp_path):


    from hwmodels.load import bundled_text

    path = tmp_path / "clock.yaml"
    path.write_text(bundled_text("edge_npu").replace("clock_hz: 200.0e+6", "clock_hz: 200.0e6"))
    assert yaml.safe_load("x: 200.0e6")["x"] == "200.0e6"  # the pitfall itself
    with pytest.raises(InputError) as exc:
        load_hardware(path)
    assert "array.clock_hz" in str(exc.value) and "YAML 1.1" in str(exc.value)
    assert "200.0e+6" in str(exc.value) and yaml.safe_load("x: 200.0e+6")["x"] == 200e6


def test_a_preset_is_parsed_once_per_text_and_an_edit_is_seen(tmp_path):
    """The YAML of one file's text is parsed and validated once per process; a changed file
    (new text) is parsed again, and a bad text fails every time it is loaded."""
    from hwmodels import load as hw_load

    path = tmp_path / "mine.yaml"
    path.write_text(hw_load._read("edge_npu", "presets", "hardware")[1])
    first = load_hardware(path)
    before = hw_load._parse_hardware_text.cache_info()
    again = load_hardware(path)
    after = hw_load._parse_hardware_text.cache_info()
    assert again == first and after.hits == before.hits + 1 and after.misses == before.misses
    path.write_text(path.read_text().replace("name: edge_npu", "name: mine", 1))
    assert load_hardware(path).name == "mine"
    path.write_text("array: [1, 2\n")
    for _ in range(2):
        with pytest.raises(InputError, match="mine.yaml"):
            load_hardware(path)
