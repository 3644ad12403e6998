"""Read version-1 hardware files (no `version` key; `array.fp32`) as version 2.

Version 1 gave every PE a floating-point MAC through `array.fp32: true` at
`array.fp32_cycles_per_mac`, with no area or leakage for any compute. The stated equivalent in
version 2 (docs/hardware.md, "Version 1 files"):

- `array.fp32: true` -> a compute unit `fp32` with `placement: pe`,
  `formats: {fp32: fp32_cycles_per_mac}`, area one fp32 FMA per PE (Horowitz 45 nm: 32-bit FP
  multiply 7700 µm² + 32-bit FP add 4184 µm²) and leakage 0 (version 1 charged none);
- `array.fp32: false` (the default) -> no compute unit;
- the array's `pe_area_um2` = one integer MAC at `native_bits` with a 32-bit adder (Horowitz
  45 nm areas, hwmodels.areas), `pe_leakage_uw` 0 (version 1 charged none).

Every conversion issues one `HardwareFormatWarning` naming the file.
"""

from __future__ import annotations

import warnings
from typing import Any

from hwmodels.areas import fp_mac_um2, int_mac_um2


class HardwareFormatWarning(FutureWarning):
    """A version-1 hardware file was converted on load (shown to users by default)."""


def is_v1(data: dict[str, Any]) -> bool:
    """`version: 1`, or no `version` and an array written the version-1 way (`fp32` /
    `fp32_cycles_per_mac`, or no `pe_area_um2`)."""
    if "version" in data:
        return data["version"] == 1
    array = data.get("array")
    if not isinstance(array, dict):
        return False
    return "fp32" in array or "fp32_cycles_per_mac" in array or "pe_area_um2" not in array


def upgrade_v1(source: str, data: dict[str, Any]) -> dict[str, Any]:
    """The version-2 form of a version-1 mapping (see the module docstring)."""
    out = {k: v for k, v in data.items() if k != "version"}
    array = out.get("array")
    if not isinstance(array, dict):
        return {"version": 2, **out}
    array = dict(array)
    fp32 = array.pop("fp32", False)
    cycles = array.pop("fp32_cycles_per_mac", 1)
    native = array.get("native_bits", 8)
    note = ("converted from a version-1 file (docs/hardware.md, 'Version 1 files'): Horowitz "
            "ISSCC 2014 45 nm areas; leakage 0 as version 1 charged none")
    if isinstance(native, int) and not isinstance(native, bool):
        array.setdefault("pe_area_um2", round(int_mac_um2(native, native), 3))
    array.setdefault("pe_leakage_uw", 0.0)
    array.setdefault("area_source", f"integer MAC at native_bits with a 32-bit adder, {note}")
    out["array"] = array
    units = list(out.get("compute_units") or [])
    if fp32 is True:
        units.append({"name": "fp32", "placement": "pe", "formats": {"fp32": cycles},
                      "area_um2": fp_mac_um2(32), "leakage_uw": 0.0,
                      "source": f"array.fp32: true, {cycles} cycle(s) per MAC in every PE; "
                                f"area one fp32 FMA per PE, {note}"})
    elif fp32 is not False:
        units.append({"name": "fp32", "placement": "pe", "formats": {"fp32": fp32}})  # invalid
    if units:
        out["compute_units"] = units
    warnings.warn(f"{source}: version-1 hardware file (array.fp32) read as version 2; "
                  "add `version: 2` and `compute_units` (docs/hardware.md)",
                  HardwareFormatWarning, stacklevel=3)
    return {"version": 2, **out}
