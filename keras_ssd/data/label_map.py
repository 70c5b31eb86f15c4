"""TF Object Detection API label maps: read, write, and map a record's class ids to labels.

A label map is the TF OD API's `.pbtxt` text, read here by a small tokenizer
(no protobuf dependency):

```
item {
  id: 1
  name: 'cat'
}
```

Inside keras_ssd labels are 0-based: a record's class id maps to the position of
that id among the label map's ids in increasing order (for ids `1..C` that is
`id - 1`; COCO's label map, ids 1..90 with gaps, gives 0..79). Without a label
map, the label is `id - 1`.
"""

import ast
import re

import numpy as np
import tensorflow as tf

from keras_ssd.data.reader_errors import names_the_file

# protobuf text tokens: a comment, a quoted string, punctuation, a bare word.
_TOKEN = re.compile(
    r"""\s*(?:(\#[^\n]*)|("(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')|([{}:])|([^\s{}:"'\#]+))"""
)


def _tokens(text, path):
    position, tokens = 0, []
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            if text[position:].strip() == "":
                break
            line = text.count("\n", 0, position) + 1
            raise ValueError(
                f"{path}:{line}: cannot read the label map here: "
                f"{text[position:position + 30]!r} (an unclosed quote?)."
            )
        position = match.end()
        if match.group(1) is None and match.lastindex is not None:
            line = text.count("\n", 0, match.start(match.lastindex)) + 1
            tokens.append((match.group(match.lastindex), line))
    return tokens


def parse_label_map(path):
    """Returns the items of a label map: dicts with `id`, `name`, `display_name`."""
    try:
        with tf.io.gfile.GFile(path, "r") as file:
            text = file.read()
    except tf.errors.NotFoundError:
        raise ValueError(f"label map {path} does not exist.") from None
    except UnicodeDecodeError as error:
        raise ValueError(f"label map {path} is not UTF-8 text ({error}).") from None
    tokens = _tokens(text, path)
    items, index = [], 0

    def expect(value):
        nonlocal index
        if index >= len(tokens) or tokens[index][0] != value:
            found = repr(tokens[index][0]) if index < len(tokens) else "the end of the file"
            line = tokens[min(index, len(tokens) - 1)][1] if tokens else 1
            raise ValueError(f"{path}:{line}: expected {value!r}, found {found}.")
        index += 1

    while index < len(tokens):
        expect("item")
        if index < len(tokens) and tokens[index][0] == ":":
            index += 1
        expect("{")
        line = tokens[index - 1][1]
        fields = {}
        while index < len(tokens) and tokens[index][0] != "}":
            key = tokens[index][0]
            index += 1
            if index < len(tokens) and tokens[index][0] == ":":
                index += 1
            if index < len(tokens) and tokens[index][0] == "{":
                # A nested message (e.g. keypoints): not needed, skipped.
                depth = 0
                while index < len(tokens):
                    depth += {"{": 1, "}": -1}.get(tokens[index][0], 0)
                    index += 1
                    if depth == 0:
                        break
                continue
            if index >= len(tokens):
                break
            fields[key] = tokens[index][0]
            index += 1
        expect("}")
        items.append(_label_map_item(fields, path, line))
    if not items:
        raise ValueError(f"{path}: the label map has no `item {{ id: ... name: ... }}`.")
    ids = [item["id"] for item in items]
    repeated = sorted({value for value in ids if ids.count(value) > 1})
    if repeated:
        raise ValueError(f"{path}: the label map repeats ids {repeated}.")
    return sorted(items, key=lambda item: item["id"])


def _unquote(value):
    if value[:1] in ("'", '"'):
        return ast.literal_eval(value)
    return value


def _label_map_item(fields, path, line):
    if "id" not in fields or "name" not in fields and "display_name" not in fields:
        raise ValueError(f"{path}:{line}: every item needs an id and a name, got {fields}.")
    try:
        item_id = int(fields["id"])
    except ValueError:
        raise ValueError(f"{path}:{line}: id {fields['id']!r} is not an integer.") from None
    if item_id < 1:
        raise ValueError(
            f"{path}:{line}: id {item_id} is not allowed: TF OD API ids start at 1 (0 is "
            f"background)."
        )
    name = _unquote(fields.get("name", fields.get("display_name")))
    display_name = _unquote(fields["display_name"]) if "display_name" in fields else None
    return {"id": item_id, "name": name, "display_name": display_name}


@names_the_file("read_label_map")
def read_label_map(path):
    """Reads a TF OD API label map `.pbtxt`.

    Args:
        path: str. The label map file.

    Returns:
        A dict `{id: class name}` in increasing id order; the class name is the
        item's `display_name` when it has one, else its `name`.

    Raises:
        ValueError: naming the file and line, if the file is missing or is not
            a label map, an item lacks an id or a name, an id is < 1 or repeated.

    Example:

    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "label_map.pbtxt")
    >>> write_label_map(path, ["cat", "dog"])
    >>> read_label_map(path)
    {1: 'cat', 2: 'dog'}
    """
    return {
        item["id"]: item["display_name"] or item["name"] for item in parse_label_map(path)
    }


def write_label_map(path, class_names):
    """Writes a TF OD API label map: class `k` gets id `k + 1`.

    Args:
        path: str. Where to write the `.pbtxt`.
        class_names: sequence of str. Class names, indexed by label.

    Raises:
        ValueError: if `class_names` is empty, repeats a name or holds a
            non-string.
    """
    class_names = check_class_names(class_names, "write_label_map")
    lines = []
    for index, name in enumerate(class_names):
        escaped = name.replace("\\", "\\\\").replace("'", "\\'")
        lines.append(f"item {{\n  id: {index + 1}\n  name: '{escaped}'\n}}\n")
    with tf.io.gfile.GFile(path, "w") as file:
        file.write("".join(lines))


def check_class_names(class_names, caller):
    if isinstance(class_names, str) or not all(isinstance(name, str) for name in class_names):
        raise ValueError(f"{caller}: class_names must be a sequence of str, got {class_names!r}.")
    class_names = list(class_names)
    repeated = sorted({name for name in class_names if class_names.count(name) > 1})
    if not class_names or repeated:
        raise ValueError(
            f"{caller}: class_names must be non-empty and unique, got {class_names!r}."
        )
    return class_names


class RecordClasses:
    """Maps a record's 1-based ids (or class texts) to 0-based labels."""

    def __init__(self, label_map_path):
        self.label_map_path = label_map_path
        self.items = parse_label_map(label_map_path) if label_map_path else None
        if self.items:
            self.rank_of_id = {item["id"]: rank for rank, item in enumerate(self.items)}
            self.rank_of_text = {}
            for rank, item in enumerate(self.items):
                for text in (item["name"], item["display_name"]):
                    if text is not None:
                        self.rank_of_text.setdefault(text, rank)
            self.names = [item["display_name"] or item["name"] for item in self.items]

    def labels(self, ids, texts, source):
        """0-based labels of one record, in Python; raises ValueError."""
        if len(ids):
            if self.items is None:
                bad = ids < 1
                if bad.any():
                    raise ValueError(
                        f"{source}: class/label {int(ids[bad][0])} < 1; TF OD API ids "
                        f"start at 1 (0 is background): was it written 0-based? "
                        f"{int(bad.sum())} of {len(ids)} boxes."
                    )
                return ids - 1
            unknown = [int(value) for value in ids if int(value) not in self.rank_of_id]
            if unknown:
                raise ValueError(
                    f"{source}: class/label {unknown[0]} is not an id of the label map "
                    f"{self.label_map_path} ({len(unknown)} of {len(ids)} boxes)."
                )
            labels = np.asarray([self.rank_of_id[int(value)] for value in ids], np.int64)
            if len(texts) == len(ids):
                self._check_texts_agree(ids, texts, labels, source)
            return labels
        if self.items is None:
            raise ValueError(
                f"{source}: the boxes have no image/object/class/label; pass "
                f"label_map_path to map their class/text to labels."
            )
        unknown = [text for text in texts if text not in self.rank_of_text]
        if unknown:
            raise ValueError(
                f"{source}: class/text {unknown[0]!r} is not a name in the label map "
                f"{self.label_map_path}."
            )
        return np.asarray([self.rank_of_text[text] for text in texts], np.int64)

    def _check_texts_agree(self, ids, texts, labels, source):
        """Refuses a record whose class/text contradicts what the label map calls its id.

        A label map whose ids are in another order than the records' would otherwise
        relabel every box without a word.
        """
        disagree = [
            index for index, (text, label) in enumerate(zip(texts, labels))
            if text and text not in (self.items[label]["name"], self.items[label]["display_name"])
        ]
        if not disagree:
            return
        index = disagree[0]
        item = self.items[labels[index]]
        entry = item["display_name"] or item["name"]
        other = self.rank_of_text.get(texts[index])
        elsewhere = (
            f"; the map gives {texts[index]!r} the id {self.items[other]['id']}" if other is not None else ""
        )
        raise ValueError(
            f"{source}: box {index} has class/label {int(ids[index])} and class/text "
            f"{texts[index]!r}, but the label map {self.label_map_path} names id "
            f"{int(ids[index])} {entry!r}{elsewhere} ({len(disagree)} of {len(ids)} boxes of this "
            "record disagree). Is the label map for other records, or its ids in another order? "
            "Fix the map (or the records) so that each id has the records' name."
        )

    def tables(self):
        """In-graph lookups (id table, text table), or None without a label map."""
        if self.items is None:
            return None
        ids = tf.constant([item["id"] for item in self.items], tf.int64)
        ranks = tf.range(len(self.items), dtype=tf.int64)
        id_table = tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(ids, ranks), -1)
        texts = list(self.rank_of_text)
        text_table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(texts, tf.string),
                tf.constant([self.rank_of_text[text] for text in texts], tf.int64),
            ),
            -1,
        )
        return id_table, text_table
