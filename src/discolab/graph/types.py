"""Value types of the program language.

A type says what an intermediate value means (a per-sample float, a list of
one value per action, ...) so that mutation only ever wires an argument to a
value of the kind the op expects. The type also fixes how random values are
drawn for the functional fingerprint.
"""

from __future__ import annotations

import enum


class ValueType(str, enum.Enum):
    """The kinds of values a program node can produce.

    FLOAT is one number per sample (shape ``[batch]``); LIST holds one value
    per discrete action (``[batch, actions]``); PROB is a softmax of a LIST;
    ACTION is an integer action index per sample, stored as float.
    """

    FLOAT = "float"
    LIST = "list"
    PROB = "prob"
    ACTION = "action"

    def __str__(self) -> str:
        return self.value
