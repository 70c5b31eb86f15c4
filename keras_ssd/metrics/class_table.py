"""The plain-text per-class table that the COCO and VOC reports print."""

import numpy as np


def format_class_table(per_class, columns, mean_values):
    """Formats one row per class, a header and a mean row.

    Args:
        per_class: list of dicts with `"name"`, `"num_boxes"` and the column keys.
        columns: list of `(header, key)` pairs for the AP columns.
        mean_values: one value per column for the mean row.

    Returns:
        str. The table, no trailing newline; NaN shows as `-`.
    """
    names = [str(row["name"]) for row in per_class]
    width = max([len("class"), len("mean")] + [len(name) for name in names])
    column_width = max([7] + [len(header) for header, _ in columns])

    def cell(value):
        return f"{'-':>{column_width}}" if np.isnan(value) else f"{value:{column_width}.3f}"

    header = f"{'class':<{width}}  {'boxes':>7}" + "".join(
        f"  {title:>{column_width}}" for title, _ in columns
    )
    rule = "-" * len(header)
    lines = [header, rule]
    for name, row in zip(names, per_class):
        cells = "".join(f"  {cell(row[key])}" for _, key in columns)
        lines.append(f"{name:<{width}}  {row['num_boxes']:>7d}{cells}")
    total = sum(row["num_boxes"] for row in per_class)
    lines += [rule, f"{'mean':<{width}}  {total:>7d}" + "".join(f"  {cell(v)}" for v in mean_values)]
    return "\n".join(lines)
