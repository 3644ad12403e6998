"""Hardware component models: what one action costs (energy tables, SRAM, DRAM, MACs, array).

Modules: `schema` (the YAML contract), `load` (presets, tables, user files), `energy` (scaling
rules), `components` (cost-model protocols and defaults), `registry` (models by name and entry
point), `systolic` (array timing), `summary` (derived headline numbers). Bundled data lives in
`presets/*.yaml` and `tables/*.yaml`.
"""
