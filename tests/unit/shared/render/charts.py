"""Charts that stress a render: many objects, one that never ends, one far too big."""

from __future__ import annotations

CHART_YAML = "apiVersion: v2\nname: {name}\nversion: 0.1.0\n"


def configmaps_chart(count: int, *, payload: int = 1000, name: str = "many") -> dict[str, str]:
    """A valid chart of `count` ConfigMaps of `payload` bytes each (300 make ~330 KB)."""
    return {
        "Chart.yaml": CHART_YAML.format(name=name),
        "templates/configmaps.yaml": (
            f"{{{{- range $i := until {count} }}}}\n"
            "---\n"
            "apiVersion: v1\n"
            "kind: ConfigMap\n"
            "metadata: {name: cm-{{ $i }}}\n"
            f'data: {{payload: {{{{ repeat {payload} "x" | quote }}}}}}\n'
            "{{- end }}\n"
        ),
    }


ENDLESS_CHART = {
    "Chart.yaml": CHART_YAML.format(name="endless"),
    # Ten billion empty iterations in small slices: CPU for hours, no memory to speak of.
    "templates/endless.yaml": (
        "{{- range $i := until 100000 }}{{- range $j := until 100000 }}{{- end }}{{- end }}\n"
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: never}\n"
    ),
}


def under(prefix: str, files: dict[str, str]) -> dict[str, str]:
    return {f"{prefix}/{name}": text for name, text in files.items()}
